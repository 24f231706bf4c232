// protoc-gen-asap: the protoc plugin that turns a .proto whose services
// describe agents (asap/v1/options.proto) into typed agents and clients.
//
//   protoc --plugin=protoc-gen-asap=PATH --asap_out=cpp,python,json:OUT
//       -I. -I/usr/include research.proto      (one command line)
//
// For each input file `f.proto` it writes, as the parameter asks:
// - cpp: f.asap.h and f.asap.cc (tools/protoc_gen_asap/cpp_generator.h);
// - python: f_asap.py (tools/protoc_gen_asap/python_generator.h);
// - json: f.asap.json, the manifest of each agent with its skills' JSON
//   Schemas, {"agents": [...]}, keys sorted.
// Without a parameter it writes all three. The Bazel rule
// asap_agent_library (//tools/build_defs:agent.bzl) runs it.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "asap/envelope.h"
#include "asap/skills/json_schema.h"
#include "asap/skills/struct_codec.h"
#include "asap/v1/manifest.pb.h"
#include "google/protobuf/compiler/code_generator.h"
#include "google/protobuf/compiler/plugin.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "tools/protoc_gen_asap/agent_model.h"
#include "tools/protoc_gen_asap/cpp_generator.h"
#include "tools/protoc_gen_asap/python_generator.h"

namespace asap::codegen {
namespace {

using google::protobuf::FileDescriptor;
using google::protobuf::compiler::GeneratorContext;

bool Write(GeneratorContext* context, const std::string& name,
           const std::string& content) {
  std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> stream(
      context->Open(name));
  void* data = nullptr;
  int size = 0;
  size_t written = 0;
  while (written < content.size()) {
    if (!stream->Next(&data, &size)) return false;
    size_t n = std::min(static_cast<size_t>(size), content.size() - written);
    memcpy(data, content.data() + written, n);
    written += n;
    if (n < static_cast<size_t>(size)) stream->BackUp(size - n);
  }
  return true;
}

// {"agents": [manifest, ...]} with the schemas the served manifest has.
absl::StatusOr<std::string> ManifestsJson(
    const std::vector<AgentModel>& agents) {
  google::protobuf::Value root;
  auto* list = (*root.mutable_struct_value()->mutable_fields())["agents"]
                   .mutable_list_value();
  for (const AgentModel& agent : agents) {
    v1::Manifest manifest;
    manifest.set_id(agent.id);
    manifest.set_name(agent.name);
    manifest.set_version(agent.version);
    manifest.set_description(agent.description);
    v1::Capability* capabilities = manifest.mutable_capabilities();
    capabilities->set_asap_version(kAsapVersion);
    for (const SkillModel& skill : agent.skills) {
      v1::Skill* entry = capabilities->add_skills();
      entry->set_id(skill.id);
      entry->set_description(skill.description);
      absl::StatusOr<google::protobuf::Struct> input =
          skills::JsonSchemaStructFor(*skill.method->input_type());
      if (!input.ok()) return input.status();
      absl::StatusOr<google::protobuf::Struct> output =
          skills::JsonSchemaStructFor(*skill.method->output_type());
      if (!output.ok()) return output.status();
      *entry->mutable_input_schema() = *std::move(input);
      *entry->mutable_output_schema() = *std::move(output);
      if (skill.streaming) capabilities->set_streaming(true);
    }
    skills::CodecOptions codec;
    codec.field_names = skills::FieldNames::kOriginal;
    absl::Status status = skills::MessageToStruct(
        manifest, list->add_values()->mutable_struct_value(), codec);
    if (!status.ok()) return status;
  }
  return skills::StableJson(root);
}

class AsapGenerator : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const FileDescriptor* file, const std::string& parameter,
                GeneratorContext* context, std::string* error) const override {
    bool cpp = parameter.empty(), python = parameter.empty(),
         json = parameter.empty();
    for (absl::string_view part :
         absl::StrSplit(parameter, ',', absl::SkipEmpty())) {
      if (part == "cpp") {
        cpp = true;
      } else if (part == "python") {
        python = true;
      } else if (part == "json") {
        json = true;
      } else {
        *error = absl::StrCat("unknown parameter \"", part,
                              "\" (cpp, python, json)");
        return false;
      }
    }
    absl::StatusOr<std::vector<AgentModel>> agents = ReadAgents(*file);
    if (!agents.ok()) {
      *error = std::string(agents.status().message());
      return false;
    }
    std::string base = StripProto(file->name());
    if (cpp &&
        (!Write(context, base + ".asap.h", CppHeader(*file, *agents)) ||
         !Write(context, base + ".asap.cc", CppSource(*file, *agents)))) {
      *error = "cannot write the C++ files";
      return false;
    }
    if (python &&
        !Write(context, absl::StrReplaceAll(base, {{"-", "_"}}) + "_asap.py",
               PythonModule(*file, *agents))) {
      *error = "cannot write the Python module";
      return false;
    }
    if (json) {
      absl::StatusOr<std::string> manifests = ManifestsJson(*agents);
      if (!manifests.ok()) {
        *error = std::string(manifests.status().message());
        return false;
      }
      if (!Write(context, base + ".asap.json", *manifests)) {
        *error = "cannot write the manifest file";
        return false;
      }
    }
    return true;
  }
};

}  // namespace
}  // namespace asap::codegen

int main(int argc, char** argv) {
  asap::codegen::AsapGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
