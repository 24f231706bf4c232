// protoc-gen-asap's reading of a .proto (tools/protoc_gen_asap/agent_model.h)
// and its generators on hostile text: each mistake in the .proto is a clear
// error naming the service or rpc, and no description can escape the
// comment or string it is written into.
#include "tools/protoc_gen_asap/agent_model.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/compiler/importer.h"
#include "gtest/gtest.h"
#include "tools/protoc_gen_asap/cpp_generator.h"
#include "tools/protoc_gen_asap/python_generator.h"

namespace asap::codegen {
namespace {

using google::protobuf::FileDescriptor;
using google::protobuf::compiler::DiskSourceTree;
using google::protobuf::compiler::Importer;
using google::protobuf::compiler::MultiFileErrorCollector;

class Errors : public MultiFileErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column,
                const std::string& message) override {
    text += absl::StrCat(filename, ":", line, ":", column, ": ", message, "\n");
  }
  std::string text;
};

// Imports a .proto written from `body` (after the syntax, package and
// options import), as protoc would.
class ProtoFixture : public ::testing::Test {
 protected:
  ProtoFixture() {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/protos");
    std::string mkdir = absl::StrCat("mkdir -p ", dir_);
    EXPECT_EQ(std::system(mkdir.c_str()), 0);
    tree_.MapPath("", dir_);
    tree_.MapPath("asap/v1", absl::StrCat(std::getenv("TEST_SRCDIR"),
                                          "/asap/proto/asap/v1"));
    tree_.MapPath("google/protobuf", "/usr/include/google/protobuf");
  }

  const FileDescriptor* Import(const std::string& name,
                               const std::string& body) {
    std::ofstream(absl::StrCat(dir_, "/", name))
        << "syntax = \"proto3\";\npackage demo;\n"
           "import \"asap/v1/options.proto\";\n"
           "import \"google/protobuf/empty.proto\";\n"
           "message Req { string text = 1; }\n"
           "message Resp { string text = 1; }\n"
        << body;
    importer_ = std::make_unique<Importer>(&tree_, &errors_);
    const FileDescriptor* file = importer_->Import(name);
    EXPECT_NE(file, nullptr) << errors_.text;
    return file;
  }

  absl::Status Read(const std::string& body) {
    const FileDescriptor* file = Import("t.proto", body);
    if (file == nullptr) return absl::InternalError(errors_.text);
    return ReadAgents(*file).status();
  }

  std::string dir_;
  DiskSourceTree tree_;
  Errors errors_;
  std::unique_ptr<Importer> importer_;
};

constexpr char kAgent[] =
    "  option (asap.v1.agent) = { id: \"urn:asap:agent:demo\" };\n";

TEST_F(ProtoFixture, DefaultsComeFromTheServiceAndItsComments) {
  const FileDescriptor* file = Import(
      "defaults.proto",
      absl::StrCat("// Says things back.\n// Politely.\nservice Parrot {\n",
                   kAgent,
                   "  // Repeats the text.\n"
                   "  rpc SayItAgain(Req) returns (Resp);\n"
                   "  rpc HTTPGet(Req) returns (stream Resp) {\n"
                   "    option (asap.v1.skill) = { id: \"http.get\" "
                   "description: \"Fetches\" };\n"
                   "  }\n"
                   "  rpc Import(Req) returns (Resp);\n"
                   "}\n"));
  ASSERT_NE(file, nullptr);
  absl::StatusOr<std::vector<AgentModel>> agents = ReadAgents(*file);
  ASSERT_TRUE(agents.ok()) << agents.status();
  ASSERT_EQ(agents->size(), 1);
  const AgentModel& agent = agents->front();
  EXPECT_EQ(agent.id, "urn:asap:agent:demo");
  EXPECT_EQ(agent.name, "Parrot");
  EXPECT_EQ(agent.version, "1.0.0");
  EXPECT_EQ(agent.description, "Says things back. Politely.");
  ASSERT_EQ(agent.skills.size(), 3);
  EXPECT_EQ(agent.skills[0].id, "say_it_again");
  EXPECT_EQ(agent.skills[0].description, "Repeats the text.");
  EXPECT_FALSE(agent.skills[0].streaming);
  EXPECT_EQ(agent.skills[1].id, "http.get");
  EXPECT_EQ(agent.skills[1].description, "Fetches");
  EXPECT_EQ(agent.skills[1].python_name, "http_get");
  EXPECT_TRUE(agent.skills[1].streaming);
  EXPECT_EQ(agent.skills[2].python_name, "import_");
}

TEST(SnakeCaseTest, SplitsWordsAndAcronyms) {
  EXPECT_EQ(SnakeCase("Search"), "search");
  EXPECT_EQ(SnakeCase("SearchPapers"), "search_papers");
  EXPECT_EQ(SnakeCase("HTTPGet"), "http_get");
  EXPECT_EQ(SnakeCase("GetV2Item"), "get_v2_item");
  EXPECT_EQ(SnakeCase("already_snake"), "already_snake");
}

struct Refusal {
  const char* name;
  std::string body;
  const char* error;
};

class RefusalTest : public ProtoFixture,
                    public ::testing::WithParamInterface<Refusal> {};

TEST_P(RefusalTest, IsAnErrorNamingThePlace) {
  absl::Status status = Read(GetParam().body);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(GetParam().error), absl::string_view::npos)
      << status;
}

INSTANTIATE_TEST_SUITE_P(
    Proto, RefusalTest,
    ::testing::Values(
        Refusal{"NoAgentId", "service S { rpc A(Req) returns (Resp); }",
                "service demo.S: set option (asap.v1.agent)"},
        Refusal{"NotAnAgentUrn",
                "service S { option (asap.v1.agent) = { id: \"agent:x\" }; }",
                "\"agent:x\" is not an agent URN"},
        Refusal{"BadVersion",
                "service S { option (asap.v1.agent) = { id: "
                "\"urn:asap:agent:x\" version: \"one\" }; }",
                "\"one\" is not a semantic version"},
        Refusal{"ClientStreaming",
                absl::StrCat("service S {", kAgent,
                             "rpc Up(stream Req) returns (Resp); }"),
                "rpc demo.S.Up: a skill takes one input"},
        Refusal{"Bidirectional",
                absl::StrCat("service S {", kAgent,
                             "rpc Chat(stream Req) returns (stream Resp); }"),
                "rpc demo.S.Chat: a skill takes one input"},
        Refusal{"DuplicateSkillId",
                absl::StrCat("service S {", kAgent,
                             "rpc FindIt(Req) returns (Resp);"
                             "rpc Other(Req) returns (Resp) { option "
                             "(asap.v1.skill) = { id: \"find_it\" }; } }"),
                "rpc demo.S.Other: skill id \"find_it\" is used by another"},
        Refusal{"SkillIdWithSpaces",
                absl::StrCat("service S {", kAgent,
                             "rpc A(Req) returns (Resp) { option "
                             "(asap.v1.skill) = { id: \"a b\" }; } }"),
                "may hold only letters"},
        Refusal{"ReservedName",
                absl::StrCat("service S {", kAgent,
                             "rpc RegisterWith(Req) returns (Resp); }"),
                "rpc demo.S.RegisterWith: the name is used by the generated"},
        Refusal{"AsyncClash",
                absl::StrCat("service S {", kAgent,
                             "rpc Find(Req) returns (Resp);"
                             "rpc FindAsync(Req) returns (Resp); }"),
                "its client method FindAsync clashes"},
        Refusal{"StreamingAsyncClash",
                absl::StrCat("service S {", kAgent,
                             "rpc Watch(Req) returns (stream Resp);"
                             "rpc WatchAsync(Req) returns (Resp); }"),
                "its client method WatchAsync clashes"},
        Refusal{"PythonNameClash",
                absl::StrCat("service S {", kAgent,
                             "rpc GetX(Req) returns (Resp) { option "
                             "(asap.v1.skill) = { id: \"x1\" }; }"
                             "rpc get_x(Req) returns (Resp); }"),
                "its Python method get_x is another rpc's too"}),
    [](const ::testing::TestParamInfo<Refusal>& info) {
      return std::string(info.param.name);
    });

// Descriptions with line breaks, backslashes, quotes and code-like text.
constexpr char kHostile[] =
    "service S {\n"
    "  option (asap.v1.agent) = { id: \"urn:asap:agent:x\" "
    "description: \"a\\n#error injected\\\\\\n\\\"\\\"\\\" import os\" };\n"
    "  rpc A(Req) returns (Resp) { option (asap.v1.skill) = { description: "
    "\"ends in a backslash \\\\\" }; }\n"
    "  rpc B(Req) returns (Resp) { option (asap.v1.skill) = { description: "
    "\"\\\"); system(\\\"x\\\"); (\\\"\" }; }\n"
    "}\n";

TEST_F(ProtoFixture, HostileDescriptionsStayInsideTheirCommentOrString) {
  const FileDescriptor* file = Import("hostile.proto", kHostile);
  ASSERT_NE(file, nullptr);
  absl::StatusOr<std::vector<AgentModel>> agents = ReadAgents(*file);
  ASSERT_TRUE(agents.ok()) << agents.status();
  for (const std::string& code :
       {CppHeader(*file, *agents), CppSource(*file, *agents)}) {
    for (absl::string_view line : absl::StrSplit(code, '\n')) {
      absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
      EXPECT_FALSE(absl::StartsWith(trimmed, "#error")) << line;
      EXPECT_FALSE(absl::EndsWith(line, "\\")) << line;
      // The text itself appears only in comments (escaped in literals).
      if (line.find("system(\"x\")") != absl::string_view::npos) {
        EXPECT_TRUE(absl::StartsWith(trimmed, "//")) << line;
      }
    }
  }
  std::string python = PythonModule(*file, *agents);
  for (absl::string_view line : absl::StrSplit(python, '\n')) {
    EXPECT_FALSE(
        absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "import os"))
        << line;
  }
  EXPECT_EQ(python.find("\"\"\"\"\"\"\" import os"), std::string::npos);
}

}  // namespace
}  // namespace asap::codegen
