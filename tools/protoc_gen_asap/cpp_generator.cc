#include "tools/protoc_gen_asap/cpp_generator.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/compiler/cpp/names.h"
#include "google/protobuf/io/printer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace asap::codegen {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::io::Printer;
using google::protobuf::io::StringOutputStream;

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CEscape(text), "\"");
}

std::string TypeName(const Descriptor& message) {
  return google::protobuf::compiler::cpp::QualifiedClassName(&message);
}

std::string IncludeGuard(const std::string& header) {
  std::string guard;
  for (char c : header) {
    guard += absl::ascii_isalnum(static_cast<unsigned char>(c))
                 ? absl::ascii_toupper(static_cast<unsigned char>(c))
                 : '_';
  }
  return guard + "_";
}

// One line of a comment. A backslash ending it would splice the next line
// of code into the comment, so trailing backslashes are dropped.
void PrintCommentLine(Printer& p, absl::string_view line) {
  while (!line.empty() && line.back() == '\\') line.remove_suffix(1);
  p.Print("// $line$\n", "line", std::string(line));
}

// A description as comment lines of at most 77 columns. Every whitespace
// character (line breaks included) separates words, so no text can leave
// the comment.
void PrintComment(Printer& p, absl::string_view text) {
  std::string line;
  for (absl::string_view word : absl::StrSplit(
           text, absl::ByAnyChar(" \t\r\n\f\v"), absl::SkipEmpty())) {
    if (!line.empty() && line.size() + 1 + word.size() > 74) {
      PrintCommentLine(p, line);
      line.clear();
    }
    if (!line.empty()) line += ' ';
    absl::StrAppend(&line, word);
  }
  if (!line.empty()) PrintCommentLine(p, line);
}

std::map<std::string, std::string> SkillVars(const AgentModel& agent,
                                             const SkillModel& skill) {
  return {
      {"Agent", agent.service->name()},
      {"Method", skill.method->name()},
      {"Request", TypeName(*skill.method->input_type())},
      {"Response", TypeName(*skill.method->output_type())},
      {"constant", absl::StrCat("k", skill.method->name(), "Skill")},
      {"id", Quoted(skill.id)},
      {"description", Quoted(skill.description)},
  };
}

void PrintHeaderAgent(Printer& p, const AgentModel& agent) {
  std::map<std::string, std::string> vars = {
      {"Agent", agent.service->name()},
      {"agent_id", Quoted(agent.id)},
  };
  if (!agent.description.empty()) PrintComment(p, agent.description);
  p.Print(vars,
          "class $Agent$ final {\n"
          " public:\n");
  p.Indent();
  p.Print(vars,
          "$Agent$() = delete;\n"
          "\n"
          "// The agent's URN, the manifest's id.\n"
          "static constexpr char kAgentId[] = $agent_id$;\n");
  if (!agent.skills.empty())
    p.Print("// The skill ids, as skill_id says them on the wire.\n");
  for (const SkillModel& skill : agent.skills) {
    p.Print(SkillVars(agent, skill),
            "static constexpr char $constant$[] = $id$;\n");
  }

  p.Print(vars,
          "\n"
          "// The agent: override the skills it implements; the others "
          "answer\n"
          "// asap:transport/handler_not_found. RegisterWith installs it as "
          "the\n"
          "// task.request handler, AddTo writes its manifest entries.\n"
          "class Service : public ::asap::skills::AgentService {\n"
          " public:\n");
  p.Indent();
  p.Print(
      "explicit Service(::asap::skills::SkillRouterOptions options = {});\n");
  for (const SkillModel& skill : agent.skills) {
    p.Print("\n");
    if (!skill.description.empty()) PrintComment(p, skill.description);
    if (skill.streaming) {
      p.Print(SkillVars(agent, skill),
              "// Streams: `progress` sends a task.update before the "
              "result.\n"
              "virtual ::absl::StatusOr<$Response$> $Method$(\n"
              "    const ::asap::HandlerContext& context,\n"
              "    const $Request$& request,\n"
              "    const ::asap::skills::ProgressEmit& progress);\n");
    } else {
      p.Print(SkillVars(agent, skill),
              "virtual ::absl::StatusOr<$Response$> $Method$(\n"
              "    const ::asap::HandlerContext& context,\n"
              "    const $Request$& request);\n");
    }
  }
  p.Outdent();
  p.Print("};\n");

  p.Print(vars,
          "\n"
          "// Typed calls of the agent's skills over an AsapClient (either\n"
          "// binding). `client` must outlive this object.\n"
          "class Client {\n"
          " public:\n");
  p.Indent();
  p.Print(
      "Client(::asap::AsapClient* client, ::asap::TypedStubOptions "
      "options);\n");
  for (const SkillModel& skill : agent.skills) {
    p.Print("\n");
    if (!skill.description.empty()) PrintComment(p, skill.description);
    if (skill.streaming) {
      p.Print(SkillVars(agent, skill),
              "// `on_progress` sees each progress update.\n"
              "::absl::StatusOr<$Response$> $Method$(\n"
              "    const $Request$& request,\n"
              "    const ::asap::ProgressCallback& on_progress = nullptr,\n"
              "    const ::asap::CallOptions& options = {}) const;\n"
              "// `on_progress` (may be null), then `done` once, on a client\n"
              "// thread.\n"
              "void $Method$Async(\n"
              "    const $Request$& request,\n"
              "    ::asap::ProgressCallback on_progress,\n"
              "    std::function<void(::absl::StatusOr<$Response$>)> done,\n"
              "    const ::asap::CallOptions& options = {}) const;\n");
    } else {
      p.Print(SkillVars(agent, skill),
              "::absl::StatusOr<$Response$> $Method$(\n"
              "    const $Request$& request,\n"
              "    const ::asap::CallOptions& options = {}) const;\n"
              "// `done` runs once, on a client thread.\n"
              "void $Method$Async(\n"
              "    const $Request$& request,\n"
              "    std::function<void(::absl::StatusOr<$Response$>)> done,\n"
              "    const ::asap::CallOptions& options = {}) const;\n");
    }
  }
  p.Print(
      "\n"
      "const ::asap::TypedStub& stub() const { return stub_; }\n");
  p.Outdent();
  p.Print(
      "\n"
      " private:\n"
      "  ::asap::TypedStub stub_;\n"
      "};\n");
  p.Outdent();
  p.Print("};\n");
}

void PrintSourceAgent(Printer& p, const AgentModel& agent) {
  std::map<std::string, std::string> vars = {
      {"Agent", agent.service->name()},
      {"id", Quoted(agent.id)},
      {"name", Quoted(agent.name)},
      {"version", Quoted(agent.version)},
      {"description", Quoted(agent.description)},
  };
  p.Print(vars,
          "// ---- $Agent$ ----\n"
          "\n"
          "$Agent$::Service::Service(::asap::skills::SkillRouterOptions "
          "options)\n"
          "    : ::asap::skills::AgentService(\n"
          "          ::asap::skills::AgentIdentity{$id$, $name$, $version$,\n"
          "                                        $description$},\n"
          "          std::move(options)) {\n");
  p.Indent();
  for (const SkillModel& skill : agent.skills) {
    if (skill.streaming) {
      p.Print(SkillVars(agent, skill),
              "AddStreamingSkill<$Request$, $Response$>(\n"
              "    $constant$, $description$,\n"
              "    [this](const ::asap::HandlerContext& context,\n"
              "           const $Request$& request,\n"
              "           const ::asap::skills::ProgressEmit& progress) {\n"
              "      return $Method$(context, request, progress);\n"
              "    });\n");
    } else {
      p.Print(SkillVars(agent, skill),
              "AddSkill<$Request$, $Response$>(\n"
              "    $constant$, $description$,\n"
              "    [this](const ::asap::HandlerContext& context,\n"
              "           const $Request$& request) {\n"
              "      return $Method$(context, request);\n"
              "    });\n");
    }
  }
  p.Outdent();
  p.Print("}\n");

  for (const SkillModel& skill : agent.skills) {
    if (skill.streaming) {
      p.Print(SkillVars(agent, skill),
              "\n"
              "::absl::StatusOr<$Response$> $Agent$::Service::$Method$(\n"
              "    const ::asap::HandlerContext&, const $Request$&,\n"
              "    const ::asap::skills::ProgressEmit&) {\n"
              "  return Unimplemented($constant$);\n"
              "}\n");
    } else {
      p.Print(SkillVars(agent, skill),
              "\n"
              "::absl::StatusOr<$Response$> $Agent$::Service::$Method$(\n"
              "    const ::asap::HandlerContext&, const $Request$&) {\n"
              "  return Unimplemented($constant$);\n"
              "}\n");
    }
  }

  p.Print(vars,
          "\n"
          "$Agent$::Client::Client(::asap::AsapClient* client,\n"
          "                        ::asap::TypedStubOptions options)\n"
          "    : stub_(client, kAgentId, std::move(options)) {}\n");
  for (const SkillModel& skill : agent.skills) {
    if (skill.streaming) {
      p.Print(SkillVars(agent, skill),
              "\n"
              "::absl::StatusOr<$Response$> $Agent$::Client::$Method$(\n"
              "    const $Request$& request,\n"
              "    const ::asap::ProgressCallback& on_progress,\n"
              "    const ::asap::CallOptions& options) const {\n"
              "  $Response$ response;\n"
              "  ::absl::Status status = stub_.CallStreaming(\n"
              "      $constant$, request, &response, on_progress, options);\n"
              "  if (!status.ok()) return status;\n"
              "  return response;\n"
              "}\n"
              "\n"
              "void $Agent$::Client::$Method$Async(\n"
              "    const $Request$& request,\n"
              "    ::asap::ProgressCallback on_progress,\n"
              "    std::function<void(::absl::StatusOr<$Response$>)> done,\n"
              "    const ::asap::CallOptions& options) const {\n"
              "  stub_.CallStreamingAsync<$Response$>(\n"
              "      $constant$, request, std::move(on_progress), options,\n"
              "      std::move(done));\n"
              "}\n");
    } else {
      p.Print(SkillVars(agent, skill),
              "\n"
              "::absl::StatusOr<$Response$> $Agent$::Client::$Method$(\n"
              "    const $Request$& request,\n"
              "    const ::asap::CallOptions& options) const {\n"
              "  $Response$ response;\n"
              "  ::absl::Status status =\n"
              "      stub_.Call($constant$, request, &response, options);\n"
              "  if (!status.ok()) return status;\n"
              "  return response;\n"
              "}\n"
              "\n"
              "void $Agent$::Client::$Method$Async(\n"
              "    const $Request$& request,\n"
              "    std::function<void(::absl::StatusOr<$Response$>)> done,\n"
              "    const ::asap::CallOptions& options) const {\n"
              "  stub_.CallAsync<$Response$>($constant$, request, options,\n"
              "                              std::move(done));\n"
              "}\n");
    }
  }
}

// The headers of the files that define the skills' messages.
std::set<std::string> MessageHeaders(const std::vector<AgentModel>& agents) {
  std::set<std::string> headers;
  for (const AgentModel& agent : agents) {
    for (const SkillModel& skill : agent.skills) {
      for (const Descriptor* type :
           {skill.method->input_type(), skill.method->output_type()}) {
        headers.insert(absl::StrCat(StripProto(type->file()->name()), ".pb.h"));
      }
    }
  }
  return headers;
}

void OpenNamespace(Printer& p, const FileDescriptor& file) {
  if (file.package().empty()) return;
  p.Print("namespace $ns$ {\n\n", "ns",
          absl::StrReplaceAll(file.package(), {{".", "::"}}));
}

void CloseNamespace(Printer& p, const FileDescriptor& file) {
  if (file.package().empty()) return;
  p.Print("}  // namespace $ns$\n", "ns",
          absl::StrReplaceAll(file.package(), {{".", "::"}}));
}

}  // namespace

std::string StripProto(const std::string& file_name) {
  return std::string(absl::StripSuffix(file_name, ".proto"));
}

std::string CppHeader(const FileDescriptor& file,
                      const std::vector<AgentModel>& agents) {
  std::string out;
  {
    StringOutputStream stream(&out);
    Printer p(&stream, '$');
    std::string header = StripProto(file.name()) + ".asap.h";
    p.Print(
        "// Generated by protoc-gen-asap from $file$. Do not edit.\n"
        "//\n"
        "// The agents of $file$: for each service, a Service class to "
        "derive\n"
        "// the agent from and a Client class to call its skills with.\n"
        "#ifndef $guard$\n"
        "#define $guard$\n"
        "\n"
        "#include <functional>\n"
        "\n"
        "#include \"absl/status/statusor.h\"\n"
        "#include \"asap/skills/agent_service.h\"\n"
        "#include \"client/typed_stub.h\"\n",
        "file", file.name(), "guard", IncludeGuard(header));
    std::set<std::string> headers = MessageHeaders(agents);
    headers.insert(StripProto(file.name()) + ".pb.h");
    for (const std::string& include : headers) {
      p.Print("#include \"$include$\"\n", "include", include);
    }
    p.Print("\n");
    OpenNamespace(p, file);
    for (const AgentModel& agent : agents) {
      PrintHeaderAgent(p, agent);
      p.Print("\n");
    }
    CloseNamespace(p, file);
    if (!file.package().empty()) p.Print("\n");
    p.Print("#endif  // $guard$\n", "guard", IncludeGuard(header));
  }
  return out;
}

std::string CppSource(const FileDescriptor& file,
                      const std::vector<AgentModel>& agents) {
  std::string out;
  {
    StringOutputStream stream(&out);
    Printer p(&stream, '$');
    p.Print(
        "// Generated by protoc-gen-asap from $file$. Do not edit.\n"
        "#include \"$header$\"\n"
        "\n"
        "#include <utility>\n"
        "\n",
        "file", file.name(), "header", StripProto(file.name()) + ".asap.h");
    OpenNamespace(p, file);
    for (const AgentModel& agent : agents) {
      PrintSourceAgent(p, agent);
      p.Print("\n");
    }
    CloseNamespace(p, file);
  }
  return out;
}

}  // namespace asap::codegen
