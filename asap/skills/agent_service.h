// AgentService: the base of the agent classes protoc-gen-asap generates from
// a Protobuf service (//tools/protoc_gen_asap). A generated
// `<Service>::Service` derives from it, adds one skill per rpc to its
// SkillRouter and forwards each to a virtual method the agent overrides:
//
// clang-format off
//   class Research final : public research::ResearchAgent::Service {
//     absl::StatusOr<research::SearchResult> Search(
//         const asap::HandlerContext& context,
//         const research::SearchRequest& request) override { ... }
//   };
//
//   Research agent;
//   asap::ServerOptions options;
//   absl::Status status = agent.AddTo(&options.manifest);  // id, skills, schemas
//   asap::HandlerRegistry handlers;
//   status = agent.RegisterWith(&handlers);
//   auto server = asap::AsapServer::Start(std::move(options), std::move(handlers));
//   // or, the same in one call (server/agent_server.h):
//   auto server = asap::StartAgent(agent, std::move(options));
// clang-format on
//
// A skill the agent does not override answers
// asap:transport/handler_not_found, as an unimplemented gRPC method answers
// UNIMPLEMENTED. The agent object must outlive the server that runs it.
#ifndef ASAP_SKILLS_AGENT_SERVICE_H_
#define ASAP_SKILLS_AGENT_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/skills/typed_skill.h"
#include "asap/v1/manifest.pb.h"
#include "server/handler_registry.h"

namespace asap::skills {

// What the service's (asap.v1.agent) option says of the agent.
struct AgentIdentity {
  absl::string_view id;
  absl::string_view name;
  absl::string_view version;
  absl::string_view description;
};

class AgentService {
 public:
  virtual ~AgentService();
  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  // Registers the skills as the task.request handler of `registry`. Errors
  // of SkillRouter::RegisterWith (AlreadyExists when task.request has a
  // handler), or the error of adding a skill in the constructor.
  absl::Status RegisterWith(HandlerRegistry* registry) const;

  // Fills the agent's id, name, version and description where `manifest`
  // leaves them empty, capabilities.asap_version when empty, and the skills
  // with their JSON Schemas (replacing entries with the same id).
  absl::Status AddTo(v1::Manifest* manifest) const;

  // A manifest of this agent alone (AddTo on an empty manifest).
  absl::StatusOr<v1::Manifest> Manifest() const;

  const AgentIdentity& identity() const { return identity_; }
  const SkillRouter& router() const { return router_; }

 protected:
  AgentService(AgentIdentity identity, SkillRouterOptions options);

  // Adds a skill (generated constructors call these); the first error is
  // kept and returned by RegisterWith and AddTo.
  template <typename Request, typename Response>
  void AddSkill(absl::string_view id, absl::string_view description,
                SkillFunction<Request, Response> skill) {
    Keep(router_.Add<Request, Response>(id, description, std::move(skill)));
  }
  template <typename Request, typename Response>
  void AddStreamingSkill(absl::string_view id, absl::string_view description,
                         StreamingSkillFunction<Request, Response> skill) {
    Keep(router_.AddStreaming<Request, Response>(id, description,
                                                 std::move(skill)));
  }

  // The error of a skill the agent did not override.
  static absl::Status Unimplemented(absl::string_view skill_id);

 private:
  void Keep(absl::Status status);

  const AgentIdentity identity_;
  SkillRouter router_;
  absl::Status init_status_;
};

}  // namespace asap::skills

#endif  // ASAP_SKILLS_AGENT_SERVICE_H_
