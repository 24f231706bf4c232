// Typed skills: an agent's skills as functions of Protobuf messages.
//
// ASAP carries a skill call as a task.request whose payload names the skill
// (`skill_id`) and holds its input as a JSON object (`input`); the answer is
// a task.response whose `result` is a JSON object. A SkillRouter is the one
// task.request handler that reads `skill_id`, decodes `input` into the
// skill's request message, runs the skill and encodes its response message
// into `result`, all by the Protobuf JSON mapping (asap/skills/struct_codec.h).
//
// clang-format off
//   asap::skills::SkillRouter router;
//   absl::Status added = router.Add<SumRequest, SumResponse>(
//       "sum", "Adds integers",
//       [](const asap::HandlerContext& context, const SumRequest& request)
//           -> absl::StatusOr<SumResponse> {
//         SumResponse response;
//         for (int64_t v : request.values()) {
//           response.set_total(response.total() + v);
//         }
//         return response;
//       });
//   // Reports progress on a streaming call (gRPC SendStream, HTTP SSE):
//   router.AddStreaming<SumRequest, SumResponse>("slow_sum", "...",
//       [](const asap::HandlerContext& context, const SumRequest& request,
//          const asap::skills::ProgressEmit& progress)
//           -> absl::StatusOr<SumResponse> {
//         if (!progress(50, "half way")) return asap::AsapError(...);
//         ...
//       });
//   asap::HandlerRegistry handlers;
//   absl::Status registered = router.RegisterWith(&handlers);
//   router.AddSkillsTo(&options.manifest);  // id, description, schemas
// clang-format on
//
// Errors: an input that does not fit the request message is
// asap:protocol/malformed_envelope naming the field ("input.values[1]: ...");
// a skill_id the router does not know is asap:transport/handler_not_found
// (ASAP has no code of its own for an unknown skill; this is the one for
// "nothing here handles that", and the message lists the skills); a skill's
// own error status reaches the caller unchanged.
#ifndef ASAP_SKILLS_TYPED_SKILL_H_
#define ASAP_SKILLS_TYPED_SKILL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/skills/json_schema.h"
#include "asap/skills/struct_codec.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "server/handler_context.h"
#include "server/handler_registry.h"

namespace asap::skills {

// Sends a task.update (update_type "progress", status "working", progress
// {"percent": percent, "message": message}) before the skill's response.
// Returns false once the caller is gone: the skill should stop soon. On a
// unary call the updates are dropped and it returns true.
using ProgressEmit =
    std::function<bool(double percent, absl::string_view message)>;

template <typename Request, typename Response>
using SkillFunction = std::function<absl::StatusOr<Response>(
    const HandlerContext& context, const Request& request)>;

template <typename Request, typename Response>
using StreamingSkillFunction = std::function<absl::StatusOr<Response>(
    const HandlerContext& context, const Request& request,
    const ProgressEmit& progress)>;

struct SkillRouterOptions {
  // How inputs are decoded and results encoded, and how field names are
  // spelled in results and in the schemas AddSkillsTo publishes
  // (codec.field_names is used for both).
  CodecOptions codec;
  // Bounds of the published schemas (field_names comes from codec).
  SchemaOptions schema;
  // The skills only compute (no I/O, no waiting): run them on the thread
  // that received the call (HandlerRegistry::RegisterNonBlocking). Their
  // HandlerContext then carries only the manifest (no deadline, metadata or
  // peer). Ignored when a streaming skill is added: those run on the
  // handler threads.
  bool non_blocking = false;
};

class SkillRouter {
 public:
  explicit SkillRouter(SkillRouterOptions options = {});

  // Adds the skill `id`. InvalidArgument for an empty id or a null
  // function, AlreadyExists when the id is taken.
  template <typename Request, typename Response>
  absl::Status Add(absl::string_view id, absl::string_view description,
                   SkillFunction<Request, Response> skill) {
    if (!skill) return NullSkill(id);
    return AddEntry(
        id, description, *Request::descriptor(), *Response::descriptor(),
        /*streaming=*/false,
        [skill = std::move(skill), codec = options_.codec](
            const HandlerContext& context,
            const google::protobuf::Struct& input, const ProgressEmit&,
            google::protobuf::Struct* result) {
          Request request;
          absl::Status status = StructToMessage(input, &request, codec);
          if (!status.ok()) return status;
          absl::StatusOr<Response> response = skill(context, request);
          if (!response.ok()) return response.status();
          return MessageToStruct(*response, result, codec);
        });
  }

  // Adds a skill that reports progress. Errors as Add.
  template <typename Request, typename Response>
  absl::Status AddStreaming(absl::string_view id, absl::string_view description,
                            StreamingSkillFunction<Request, Response> skill) {
    if (!skill) return NullSkill(id);
    return AddEntry(
        id, description, *Request::descriptor(), *Response::descriptor(),
        /*streaming=*/true,
        [skill = std::move(skill), codec = options_.codec](
            const HandlerContext& context,
            const google::protobuf::Struct& input, const ProgressEmit& progress,
            google::protobuf::Struct* result) {
          Request request;
          absl::Status status = StructToMessage(input, &request, codec);
          if (!status.ok()) return status;
          absl::StatusOr<Response> response = skill(context, request, progress);
          if (!response.ok()) return response.status();
          return MessageToStruct(*response, result, codec);
        });
  }

  // Registers the router as the handler of "task.request" and "TaskRequest"
  // (answered with "task.response" and "TaskResponse"). Skills added later
  // are not seen by that handler. Errors of HandlerRegistry::Register (for
  // example AlreadyExists when task.request has a handler).
  absl::Status RegisterWith(HandlerRegistry* registry) const;

  // Answers one task.request: what the registered handler does. `emit` may
  // be null (progress is then dropped).
  absl::StatusOr<v1::Envelope> Handle(const v1::Envelope& request,
                                      const HandlerContext& context,
                                      const StreamEmit* emit) const;

  // The manifest entries of the skills, in the order they were added, with
  // JSON Schemas of their request and response messages. Errors of
  // JsonSchemaStructFor.
  absl::StatusOr<std::vector<v1::Skill>> Skills() const;

  // Appends Skills() to manifest->capabilities().skills(), replacing entries
  // with the same id, and sets capabilities.streaming when a skill streams.
  absl::Status AddSkillsTo(v1::Manifest* manifest) const;

  // The ids of the skills, in the order they were added.
  std::vector<std::string> skill_ids() const;

 private:
  using Run = std::function<absl::Status(
      const HandlerContext& context, const google::protobuf::Struct& input,
      const ProgressEmit& progress, google::protobuf::Struct* result)>;
  struct Entry {
    std::string id;
    std::string description;
    const google::protobuf::Descriptor* input = nullptr;
    const google::protobuf::Descriptor* output = nullptr;
    bool streaming = false;
    Run run;
  };
  struct Table {
    std::vector<Entry> entries;
    absl::flat_hash_map<std::string, size_t> by_id;
  };

  static absl::Status NullSkill(absl::string_view id);
  absl::Status AddEntry(absl::string_view id, absl::string_view description,
                        const google::protobuf::Descriptor& input,
                        const google::protobuf::Descriptor& output,
                        bool streaming, Run run);
  static absl::StatusOr<v1::Envelope> HandleWith(const Table& table,
                                                 const v1::Envelope& request,
                                                 const HandlerContext& context,
                                                 const StreamEmit* emit);

  SkillRouterOptions options_;
  // Copied on write: a registered handler keeps the table it was given.
  std::shared_ptr<const Table> table_;
};

// A router with the one skill `id`, registered in `registry` (see
// SkillRouter::Add and RegisterWith). For an agent with several skills use
// a SkillRouter: the registry has one task.request handler.
template <typename Request, typename Response>
absl::Status RegisterTypedSkill(HandlerRegistry* registry, absl::string_view id,
                                absl::string_view description,
                                SkillFunction<Request, Response> skill,
                                SkillRouterOptions options = {}) {
  SkillRouter router(std::move(options));
  absl::Status status =
      router.Add<Request, Response>(id, description, std::move(skill));
  if (!status.ok()) return status;
  return router.RegisterWith(registry);
}

}  // namespace asap::skills

#endif  // ASAP_SKILLS_TYPED_SKILL_H_
