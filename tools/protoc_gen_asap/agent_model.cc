#include "tools/protoc_gen_asap/agent_model.h"

#include <cctype>
#include <set>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asap/ids.h"
#include "asap/manifest.h"
#include "asap/v1/options.pb.h"
#include "google/protobuf/stubs/common.h"

namespace asap::codegen {
namespace {

using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;
using google::protobuf::SourceLocation;

// Names the generated Service and Client classes declare themselves; an rpc
// with one of them would hide or clash with it.
const std::set<std::string>& ReservedNames() {
  static const auto* names = new std::set<std::string>{
      "AddSkill",      "AddStreamingSkill", "AddTo",        "Client",
      "Keep",          "Manifest",          "RegisterWith", "Service",
      "Unimplemented", "identity",          "router",       "stub"};
  return *names;
}

// Python keywords and soft keywords a method may not be named.
bool IsPythonKeyword(const std::string& name) {
  static const auto* keywords = new std::set<std::string>{
      "and",      "as",       "assert", "async", "await",  "break",  "class",
      "continue", "def",      "del",    "elif",  "else",   "except", "finally",
      "for",      "from",     "global", "if",    "import", "in",     "is",
      "lambda",   "nonlocal", "not",    "or",    "pass",   "raise",  "return",
      "try",      "while",    "with",   "yield", "match",  "case"};
  return keywords->count(name) != 0;
}

bool IsSkillIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-' || c == '.';
}

// The comment above a declaration, trimmed, with its lines joined by one
// space: what a description falls back to.
template <typename Descriptor>
std::string LeadingComment(const Descriptor& descriptor) {
  SourceLocation location;
  if (!descriptor.GetSourceLocation(&location)) return "";
  std::string joined;
  for (absl::string_view line :
       absl::StrSplit(location.leading_comments, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (!joined.empty()) joined += ' ';
    absl::StrAppend(&joined, line);
  }
  return joined;
}

absl::Status Invalid(const ServiceDescriptor& service, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("service ", service.full_name(), ": ", what));
}

absl::Status Invalid(const MethodDescriptor& method, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("rpc ", method.full_name(), ": ", what));
}

// Generated code and JSON hold these texts: they must be UTF-8.
template <typename Descriptor>
absl::Status CheckUtf8(const Descriptor& descriptor, absl::string_view what,
                       const std::string& text) {
  if (google::protobuf::internal::IsStructurallyValidUTF8(text)) {
    return absl::OkStatus();
  }
  return Invalid(descriptor, absl::StrCat(what, " is not valid UTF-8"));
}

absl::StatusOr<AgentModel> ReadAgent(const ServiceDescriptor& service) {
  const v1::AgentOptions& options = service.options().GetExtension(v1::agent);
  AgentModel agent;
  agent.service = &service;
  agent.id = options.id();
  if (agent.id.empty()) {
    return Invalid(service,
                   "set option (asap.v1.agent) = { id: "
                   "\"urn:asap:agent:...\" }: every service of a file given "
                   "to protoc-gen-asap is an agent, and an agent needs its "
                   "URN (keep plain gRPC services in a file of their own)");
  }
  if (!IsAgentUrn(agent.id)) {
    return Invalid(service, absl::StrCat("(asap.v1.agent).id \"", agent.id,
                                         "\" is not an agent URN "
                                         "(urn:asap:agent:<name>)"));
  }
  agent.name = options.name().empty() ? service.name() : options.name();
  agent.version = options.version().empty() ? "1.0.0" : options.version();
  if (!IsSemanticVersion(agent.version)) {
    return Invalid(service,
                   absl::StrCat("(asap.v1.agent).version \"", agent.version,
                                "\" is not a semantic version"));
  }
  agent.description = options.description().empty() ? LeadingComment(service)
                                                    : options.description();
  for (const auto& [what, text] :
       {std::pair<const char*, const std::string*>{"the name", &agent.name},
        {"the description", &agent.description}}) {
    absl::Status utf8 = CheckUtf8(service, what, *text);
    if (!utf8.ok()) return utf8;
  }

  absl::flat_hash_set<std::string> ids;
  absl::flat_hash_set<std::string> python_names;
  absl::flat_hash_set<std::string> method_names;
  for (int i = 0; i < service.method_count(); ++i) {
    method_names.insert(service.method(i)->name());
  }
  for (int i = 0; i < service.method_count(); ++i) {
    const MethodDescriptor& method = *service.method(i);
    if (method.client_streaming()) {
      return Invalid(method,
                     "a skill takes one input: client-streaming and "
                     "bidirectional rpcs have no ASAP form");
    }
    if (ReservedNames().count(method.name()) != 0) {
      return Invalid(method,
                     "the name is used by the generated classes; "
                     "rename the rpc (the skill id can stay, with "
                     "option (asap.v1.skill).id)");
    }
    if (method_names.contains(absl::StrCat(method.name(), "Async"))) {
      return Invalid(method, absl::StrCat("its client method ", method.name(),
                                          "Async clashes with rpc ",
                                          method.name(), "Async"));
    }
    const v1::SkillOptions& skill_options =
        method.options().GetExtension(v1::skill);
    SkillModel skill;
    skill.method = &method;
    skill.id = skill_options.id().empty() ? SnakeCase(method.name())
                                          : skill_options.id();
    if (skill.id.size() > 128) {
      return Invalid(method, "the skill id is longer than 128 characters");
    }
    for (char c : skill.id) {
      if (!IsSkillIdChar(c)) {
        return Invalid(method, absl::StrCat("skill id \"", skill.id,
                                            "\" may hold only letters, digits, "
                                            "'_', '-' and '.'"));
      }
    }
    if (!ids.insert(skill.id).second) {
      return Invalid(method, absl::StrCat("skill id \"", skill.id,
                                          "\" is used by another rpc"));
    }
    skill.description = skill_options.description().empty()
                            ? LeadingComment(method)
                            : skill_options.description();
    absl::Status utf8 = CheckUtf8(method, "the description", skill.description);
    if (!utf8.ok()) return utf8;
    skill.streaming = method.server_streaming();
    skill.python_name = SnakeCase(method.name());
    if (IsPythonKeyword(skill.python_name)) skill.python_name += '_';
    if (!python_names.insert(skill.python_name).second) {
      return Invalid(method,
                     absl::StrCat("its Python method ", skill.python_name,
                                  " is another rpc's too"));
    }
    agent.skills.push_back(std::move(skill));
  }
  return agent;
}

}  // namespace

std::string SnakeCase(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (absl::ascii_isupper(c) && i > 0) {
      unsigned char previous = static_cast<unsigned char>(name[i - 1]);
      bool next_lower =
          i + 1 < name.size() &&
          absl::ascii_islower(static_cast<unsigned char>(name[i + 1]));
      if (absl::ascii_islower(previous) || absl::ascii_isdigit(previous) ||
          (absl::ascii_isupper(previous) && next_lower)) {
        out += '_';
      }
    }
    out += static_cast<char>(absl::ascii_tolower(c));
  }
  return out;
}

absl::StatusOr<std::vector<AgentModel>> ReadAgents(const FileDescriptor& file) {
  std::vector<AgentModel> agents;
  for (int i = 0; i < file.service_count(); ++i) {
    absl::StatusOr<AgentModel> agent = ReadAgent(*file.service(i));
    if (!agent.ok()) return agent.status();
    agents.push_back(*std::move(agent));
  }
  return agents;
}

}  // namespace asap::codegen
