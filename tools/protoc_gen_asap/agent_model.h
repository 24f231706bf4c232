// The agents a .proto describes, as protoc-gen-asap reads them: each
// service with the (asap.v1.agent) option is an agent, each of its rpcs a
// skill. Reading checks everything the generated code relies on, so a
// mistake in the .proto is a protoc error naming the service or rpc, never
// generated code that does not compile.
#ifndef TOOLS_PROTOC_GEN_ASAP_AGENT_MODEL_H_
#define TOOLS_PROTOC_GEN_ASAP_AGENT_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

namespace asap::codegen {

struct SkillModel {
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string id;           // skill_id on the wire
  std::string description;  // (asap.v1.skill).description, else the comment
  bool streaming = false;   // a server-streaming rpc: reports progress
  std::string python_name;  // snake_case method of the Python client
};

struct AgentModel {
  const google::protobuf::ServiceDescriptor* service = nullptr;
  std::string id;
  std::string name;
  std::string version;
  std::string description;
  std::vector<SkillModel> skills;
};

// The agents of `file`, in the order of its services. InvalidArgument
// naming the service or rpc for: a service without an agent id, an id that
// is not an agent URN, a version that is not semantic, a client-streaming
// rpc, two skills with one id, a skill id with characters other than
// [A-Za-z0-9_.-], or an rpc name the generated classes use themselves.
absl::StatusOr<std::vector<AgentModel>> ReadAgents(
    const google::protobuf::FileDescriptor& file);

// "SearchPapers" -> "search_papers", "HTTPGet" -> "http_get".
std::string SnakeCase(const std::string& name);

}  // namespace asap::codegen

#endif  // TOOLS_PROTOC_GEN_ASAP_AGENT_MODEL_H_
