// `asap serve --config FILE`: the TOML file's keys as serve's flags, and a
// one-line error with the line number for anything else.
#include "tools/cli/serve_config.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asap::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

absl::StatusOr<ServeFlags> Parse(absl::string_view text,
                                 absl::string_view base_dir = "") {
  return ParseServeConfig(text, "asap.toml", base_dir);
}

// The error of parsing `text`, checked to be one InvalidArgument line.
std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<ServeFlags> flags = Parse(text);
  EXPECT_FALSE(flags.ok()) << text;
  if (flags.ok()) return "";
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(flags.status().message());
  EXPECT_FALSE(absl::StrContains(message, "\n")) << message;
  return message;
}

std::string TempPath(absl::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

TEST(ServeConfigTest, EveryKeyBecomesItsFlag) {
  absl::StatusOr<ServeFlags> flags = Parse(R"(
# Every flag of asap serve.
host = "0.0.0.0"
port = 50051
http-port = 8080
manifest = "/etc/asap/manifest.json"
tls-cert = "/etc/asap/server.pem"
tls-key = "/etc/asap/server.key"
tls-client-ca = "/etc/asap/ca.pem"
auth-tokens = "/etc/asap/tokens"
jwt-key = "/etc/asap/jwt.pem"
jwt-issuer = "https://issuer.example"
jwt-audience = "my-agent"
auth-client-certs = true
rate-limit = "10/s,100/min"
redis = "redis://127.0.0.1:6379/0"
redis-fail-open = false
log-level = "info"
log-format = "json"
)");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(*flags, (ServeFlags{
                        {"host", "0.0.0.0"},
                        {"port", "50051"},
                        {"http-port", "8080"},
                        {"manifest", "/etc/asap/manifest.json"},
                        {"tls-cert", "/etc/asap/server.pem"},
                        {"tls-key", "/etc/asap/server.key"},
                        {"tls-client-ca", "/etc/asap/ca.pem"},
                        {"auth-tokens", "/etc/asap/tokens"},
                        {"jwt-key", "/etc/asap/jwt.pem"},
                        {"jwt-issuer", "https://issuer.example"},
                        {"jwt-audience", "my-agent"},
                        {"auth-client-certs", "true"},
                        {"rate-limit", "10/s,100/min"},
                        {"redis", "redis://127.0.0.1:6379/0"},
                        {"redis-fail-open", "false"},
                        {"log-level", "info"},
                        {"log-format", "json"},
                    }));
  EXPECT_EQ(ServeConfigKeys().size(), flags->size());
}

TEST(ServeConfigTest, EmptyFileSetsNothing) {
  absl::StatusOr<ServeFlags> flags = Parse("# nothing here\n\n");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(*flags, IsEmpty());
}

TEST(ServeConfigTest, RateLimitMayBeAList) {
  absl::StatusOr<ServeFlags> flags =
      Parse(R"(rate-limit = ["10/s", "100/min"])");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_THAT(*flags, ElementsAre(Pair("rate-limit", "10/s,100/min")));
}

TEST(ServeConfigTest, RelativePathsAreRelativeToTheFile) {
  absl::StatusOr<ServeFlags> flags = Parse(R"(
manifest = "manifest.json"
tls-cert = "certs/server.pem"
tls-key = "/abs/server.key"
jwt-issuer = "issuer"
)",
                                           "/etc/asap");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->at("manifest"), "/etc/asap/manifest.json");
  EXPECT_EQ(flags->at("tls-cert"), "/etc/asap/certs/server.pem");
  EXPECT_EQ(flags->at("tls-key"), "/abs/server.key");
  EXPECT_EQ(flags->at("jwt-issuer"), "issuer");  // not a path
}

TEST(ServeConfigTest, UnknownKeyNamesItsLine) {
  std::string error = ErrorOf("host = \"127.0.0.1\"\nprot = 50051\n");
  EXPECT_THAT(error,
              StartsWith("asap.toml:2: unknown key 'prot' (keys: host, "));
}

TEST(ServeConfigTest, TablesAreUnknownKeys) {
  EXPECT_THAT(ErrorOf("port = 1\n\n[server]\nport = 2\n"),
              StartsWith("asap.toml:3: unknown key 'server'"));
  EXPECT_THAT(ErrorOf("server.port = 2\n"),
              StartsWith("asap.toml:1: unknown key 'server'"));
  EXPECT_THAT(ErrorOf("config = \"other.toml\"\n"),
              StartsWith("asap.toml:1: unknown key 'config'"));
}

TEST(ServeConfigTest, WrongTypesNameTheLineAndTheType) {
  EXPECT_EQ(ErrorOf("\nport = \"50051\"\n"),
            "asap.toml:2: 'port' must be an integer from 0 to 65535, got a "
            "string");
  EXPECT_EQ(ErrorOf("port = 70000\n"),
            "asap.toml:1: 'port' must be from 0 to 65535, got 70000");
  EXPECT_EQ(ErrorOf("http-port = -1\n"),
            "asap.toml:1: 'http-port' must be from 0 to 65535, got -1");
  EXPECT_EQ(ErrorOf("auth-client-certs = \"true\"\n"),
            "asap.toml:1: 'auth-client-certs' must be true or false, got a "
            "string");
  EXPECT_EQ(ErrorOf("host = 127\n"),
            "asap.toml:1: 'host' must be a string, got an integer");
  EXPECT_EQ(ErrorOf("manifest = [\"a\"]\n"),
            "asap.toml:1: 'manifest' must be a string, got a list");
  EXPECT_EQ(ErrorOf("redis = { url = \"x\" }\n"),
            "asap.toml:1: 'redis' must be a string, got a table");
  EXPECT_EQ(ErrorOf("port = 1.5\n"),
            "asap.toml:1: 'port' must be an integer from 0 to 65535, got a "
            "number");
  EXPECT_THAT(ErrorOf("rate-limit = [10]\n"),
              StartsWith("asap.toml:1: 'rate-limit' must be a string or a "
                         "list of strings"));
}

TEST(ServeConfigTest, InvalidValuesNameTheLine) {
  EXPECT_THAT(ErrorOf("log-level = \"verbose\"\n"),
              StartsWith("asap.toml:1: 'log-level': the call log level must "
                         "be off, error, warning or info"));
  EXPECT_THAT(ErrorOf("\nlog-format = \"xml\"\n"),
              StartsWith("asap.toml:2: 'log-format': "));
  EXPECT_THAT(ErrorOf("rate-limit = \"ten per second\"\n"),
              StartsWith("asap.toml:1: 'rate-limit': "));
}

TEST(ServeConfigTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_THAT(ErrorOf("host = \"a\"\nport = \n"), StartsWith("asap.toml:2:"));
  EXPECT_THAT(ErrorOf("host = \"unterminated\n"), StartsWith("asap.toml:1:"));
  EXPECT_THAT(ErrorOf("port = 1\nport = 2\n"), StartsWith("asap.toml:2:"));
  EXPECT_THAT(ErrorOf("just words\n"), StartsWith("asap.toml:1:"));
}

TEST(ServeConfigTest, HostileKeysStayOnOneLine) {
  std::string error = ErrorOf("\"a\\nb\\u001b[31m\" = 1\n");
  EXPECT_THAT(error, HasSubstr("unknown key 'a?b?[31m'"));
  std::string long_key(1000, 'k');
  EXPECT_THAT(ErrorOf(absl::StrCat(long_key, " = 1\n")),
              HasSubstr(absl::StrCat("'", std::string(64, 'k'), "...'")));
}

TEST(ServeConfigTest, GarbageNeverCrashes) {
  std::mt19937 random(42);
  std::string alphabet = "[]{}=\"'.,#\n\\ azAZ09-_+:\x01\xff\xc3";
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    size_t length = random() % 200;
    for (size_t i = 0; i < length; ++i) {
      text.push_back(alphabet[random() % alphabet.size()]);
    }
    absl::StatusOr<ServeFlags> flags = Parse(text);
    if (!flags.ok()) {
      EXPECT_FALSE(absl::StrContains(flags.status().message(), "\n"));
    }
  }
  // Deep nesting and long lists are errors or values, not a stack overflow.
  std::string deep = "port = " + std::string(100000, '[');
  EXPECT_FALSE(Parse(deep).ok());
  std::string inline_tables = "port = ";
  for (int i = 0; i < 10000; ++i) inline_tables += "{a=";
  EXPECT_FALSE(Parse(inline_tables).ok());
}

TEST(ServeConfigTest, ReadsAFileWithPathsRelativeToIt) {
  std::string path = TempPath("read_test.toml");
  WriteFile(path, "port = 7\nmanifest = \"manifest.json\"\n");
  absl::StatusOr<ServeFlags> flags = ReadServeConfig(path);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->at("port"), "7");
  EXPECT_EQ(flags->at("manifest"), TempPath("manifest.json"));

  WriteFile(path, "port = 7\nhost = 1\n");
  EXPECT_THAT(std::string(ReadServeConfig(path).status().message()),
              StartsWith(absl::StrCat(path, ":2: 'host' must be a string")));
}

TEST(ServeConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadServeConfig(TempPath("no_such.toml")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadServeConfig(TempPath("")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ServeConfigTest, FilesOverTheLimitAreRefused) {
  std::string path = TempPath("big.toml");
  // A comment line just past the limit: valid TOML, but too big to read.
  WriteFile(path, "#" + std::string(kMaxServeConfigBytes, 'x') + "\n");
  absl::StatusOr<ServeFlags> flags = ReadServeConfig(path);
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(flags.status().message()),
              HasSubstr("larger than 1048576 bytes"));
}

TEST(ServeConfigTest, TheExampleParses) {
  absl::StatusOr<ServeFlags> flags =
      ReadServeConfig("examples/serve_config/asap.toml");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->at("port"), "50051");
  EXPECT_EQ(flags->at("log-level"), "info");
}

}  // namespace
}  // namespace asap::cli
