// The C++ that protoc-gen-asap writes for a .proto: `<file>.asap.h` and
// `<file>.asap.cc`, with, for each agent (service), a class holding
// kAgentId, one constant per skill id, a `Service` base class to derive the
// agent from (asap/skills/agent_service.h) and a typed `Client`
// (client/typed_stub.h).
#ifndef TOOLS_PROTOC_GEN_ASAP_CPP_GENERATOR_H_
#define TOOLS_PROTOC_GEN_ASAP_CPP_GENERATOR_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "tools/protoc_gen_asap/agent_model.h"

namespace asap::codegen {

std::string CppHeader(const google::protobuf::FileDescriptor& file,
                      const std::vector<AgentModel>& agents);
std::string CppSource(const google::protobuf::FileDescriptor& file,
                      const std::vector<AgentModel>& agents);

// "a/b/research.proto" -> "a/b/research".
std::string StripProto(const std::string& file_name);

}  // namespace asap::codegen

#endif  // TOOLS_PROTOC_GEN_ASAP_CPP_GENERATOR_H_
