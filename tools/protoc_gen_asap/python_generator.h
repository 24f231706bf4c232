// The Python that protoc-gen-asap writes for a .proto: `<file>_asap.py`,
// with, for each agent (service), AGENT_ID-style constants and a
// `<Service>Client` whose methods call the skills with the file's message
// classes (the runtime is client/python/asap_skills.py, on grpcio).
#ifndef TOOLS_PROTOC_GEN_ASAP_PYTHON_GENERATOR_H_
#define TOOLS_PROTOC_GEN_ASAP_PYTHON_GENERATOR_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "tools/protoc_gen_asap/agent_model.h"

namespace asap::codegen {

std::string PythonModule(const google::protobuf::FileDescriptor& file,
                         const std::vector<AgentModel>& agents);

}  // namespace asap::codegen

#endif  // TOOLS_PROTOC_GEN_ASAP_PYTHON_GENERATOR_H_
