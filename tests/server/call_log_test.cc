// The call log: its two formats, escaping of values that come from the
// network, level filtering, and one line per envelope call through a real
// server on both bindings.
#include "server/call_log.h"

#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kAlice[] = "urn:asap:agent:alice";

// A record with fixed values, so a line can be compared whole.
CallRecord Record(absl::Status outcome = absl::OkStatus()) {
  CallRecord record;
  record.time = absl::FromUnixMicros(1795000000123456);
  record.binding = "grpc";
  record.id = "01JD0000000000000000000000";
  record.trace_id = "trace-1";
  record.sender = kAlice;
  record.payload_type = "task.request";
  record.outcome = std::move(outcome);
  record.latency = absl::Microseconds(1234);
  return record;
}

// The keys of a text line, in order, and its values unescaped; quoting and
// escapes as FormatCallLine writes them. A value that forged a field would
// show up as an extra key.
std::vector<std::pair<std::string, std::string>> ParseText(
    absl::string_view line) {
  std::vector<std::pair<std::string, std::string>> fields;
  size_t i = 0;
  while (i < line.size() && line[i] != '\n') {
    size_t eq = line.find('=', i);
    if (eq == absl::string_view::npos) break;
    std::string key(line.substr(i, eq - i));
    std::string value;
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] != '\\') {
          value.push_back(line[i]);
          continue;
        }
        char escaped = line[++i];
        if (escaped == 'x') {
          value.push_back(static_cast<char>(
              std::stoi(std::string(line.substr(i + 1, 2)), nullptr, 16)));
          i += 2;
        } else {
          value.push_back(escaped == 'n'   ? '\n'
                          : escaped == 'r' ? '\r'
                          : escaped == 't' ? '\t'
                                           : escaped);
        }
      }
      ++i;  // the closing quote
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\n') {
        value.push_back(line[i++]);
      }
    }
    fields.emplace_back(std::move(key), std::move(value));
    if (i < line.size() && line[i] == ' ') ++i;
  }
  return fields;
}

std::vector<std::string> Keys(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> keys;
  for (const auto& field : fields) keys.push_back(field.first);
  return keys;
}

std::string Value(
    const std::vector<std::pair<std::string, std::string>>& fields,
    absl::string_view key) {
  for (const auto& [name, value] : fields) {
    if (name == key) return value;
  }
  return "<missing>";
}

// One line: a single '\n', at the end, and nothing but printable ASCII
// before it.
void ExpectOneSafeLine(absl::string_view line) {
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  for (size_t i = 0; i + 1 < line.size(); ++i) {
    unsigned char byte = static_cast<unsigned char>(line[i]);
    EXPECT_TRUE(byte >= 0x20 && byte < 0x7F)
        << "byte " << static_cast<int>(byte) << " at " << i << " of " << line;
  }
}

// ---- Formats ----

TEST(CallLogFormatTest, TextLineHasEveryField) {
  EXPECT_EQ(FormatCallLine(Record(), CallLogFormat::kText),
            "time=2026-11-18T11:06:40.123456Z level=info binding=grpc "
            "id=01JD0000000000000000000000 trace_id=trace-1 "
            "sender=urn:asap:agent:alice payload_type=task.request "
            "outcome=OK code=OK latency_ms=1.234\n");
}

TEST(CallLogFormatTest, JsonLineHasEveryField) {
  EXPECT_EQ(FormatCallLine(Record(), CallLogFormat::kJson),
            R"({"time":"2026-11-18T11:06:40.123456Z","level":"info",)"
            R"("binding":"grpc","id":"01JD0000000000000000000000",)"
            R"("trace_id":"trace-1","sender":"urn:asap:agent:alice",)"
            R"("payload_type":"task.request","outcome":"OK","code":"OK",)"
            R"("latency_ms":1.234})"
            "\n");
}

TEST(CallLogFormatTest, FailureHasAsapCodeGrpcCodeAndMessage) {
  CallRecord record =
      Record(AsapError(ErrorCode::kHandlerNotFound, "no handler for 'x'"));
  auto fields = ParseText(FormatCallLine(record, CallLogFormat::kText));
  EXPECT_EQ(Value(fields, "level"), "warning");
  EXPECT_EQ(Value(fields, "outcome"), "asap:transport/handler_not_found");
  EXPECT_EQ(Value(fields, "code"), "UNIMPLEMENTED");
  EXPECT_EQ(Value(fields, "message"),
            "asap:transport/handler_not_found: no handler for 'x'");

  rapidjson::Document json;
  json.Parse(FormatCallLine(record, CallLogFormat::kJson).c_str());
  ASSERT_FALSE(json.HasParseError());
  EXPECT_STREQ(json["outcome"].GetString(), "asap:transport/handler_not_found");
  EXPECT_STREQ(json["code"].GetString(), "UNIMPLEMENTED");
  EXPECT_STREQ(json["level"].GetString(), "warning");
}

TEST(CallLogFormatTest, ServerFailuresAreErrors) {
  auto fields = ParseText(FormatCallLine(
      Record(AsapError(ErrorCode::kInternal, "the handler threw")),
      CallLogFormat::kText));
  EXPECT_EQ(Value(fields, "level"), "error");
  EXPECT_EQ(Value(fields, "outcome"), "asap:internal/error");
  EXPECT_EQ(Value(fields, "code"), "INTERNAL");
}

// ---- Hostile values ----

// Values a client controls, each trying to break out of its field or line;
// `valid` when it is valid UTF-8.
struct Hostile {
  std::string value;
  bool valid;
};

const std::vector<Hostile>& HostileValues() {
  static const auto* values = new std::vector<Hostile>{
      {"x\nlevel=error outcome=OK", true},
      {"x\r\ntime=forged", true},
      {"x level=error", true},
      {"x\" level=\"error", true},
      {"x\\\" level=error", true},
      {R"(x","level":"error)", true},
      {std::string("nul\0byte", 8), true},
      {"\x1b[31mred\x1b[0m", true},
      {"bell\x07 del\x7f", true},
      {"line\xe2\x80\xa8separator", true},  // U+2028
      {"bidi\xe2\x80\xaeoverride", true},   // U+202E
      {"astral \xf0\x9f\x98\x80", true},    // U+1F600
      {"", true},
      {"=", true},
      {"bad\xff\xfe utf8", false},
      {"overlong \xc0\xaf", false},  // '/' in two bytes
      {"surrogate \xed\xa0\x80", false},
      {"cut \xe2\x82", false},  // a truncated sequence
  };
  return *values;
}

TEST(CallLogEscapingTest, HostileValuesStayInTheirTextField) {
  for (const auto& [hostile, valid] : HostileValues()) {
    CallRecord record = Record(AsapError(ErrorCode::kMalformedEnvelope,
                                         absl::StrCat("bad: ", hostile)));
    record.id = hostile;
    record.trace_id = hostile;
    record.sender = hostile;
    record.payload_type = hostile;
    std::string line = FormatCallLine(record, CallLogFormat::kText);
    SCOPED_TRACE(line);
    ExpectOneSafeLine(line);
    auto fields = ParseText(line);
    EXPECT_THAT(Keys(fields),
                ElementsAre("time", "level", "binding", "id", "trace_id",
                            "sender", "payload_type", "outcome", "code",
                            "latency_ms", "message"));
    // The text form keeps every byte, escaped.
    EXPECT_EQ(Value(fields, "sender"), hostile);
    EXPECT_EQ(Value(fields, "level"), "warning");
    EXPECT_EQ(Value(fields, "message"),
              absl::StrCat("asap:protocol/malformed_envelope: bad: ", hostile));
  }
}

TEST(CallLogEscapingTest, HostileValuesStayInTheirJsonField) {
  for (const auto& [hostile, valid] : HostileValues()) {
    CallRecord record = Record(AsapError(ErrorCode::kMalformedEnvelope,
                                         absl::StrCat("bad: ", hostile)));
    record.id = hostile;
    record.trace_id = hostile;
    record.sender = hostile;
    record.payload_type = hostile;
    std::string line = FormatCallLine(record, CallLogFormat::kJson);
    SCOPED_TRACE(line);
    ExpectOneSafeLine(line);
    rapidjson::Document json;
    json.Parse(line.c_str());
    ASSERT_FALSE(json.HasParseError());
    ASSERT_TRUE(json.IsObject());
    EXPECT_EQ(json.MemberCount(), 11u);
    EXPECT_STREQ(json["level"].GetString(), "warning");
    EXPECT_STREQ(json["outcome"].GetString(),
                 "asap:protocol/malformed_envelope");
    std::string sender(json["sender"].GetString(),
                       json["sender"].GetStringLength());
    // Valid UTF-8 comes back as it was; invalid bytes become U+FFFD.
    if (valid) {
      EXPECT_EQ(sender, hostile);
    } else {
      EXPECT_THAT(sender, HasSubstr("\xef\xbf\xbd"));
    }
  }
}

TEST(CallLogEscapingTest, LongValuesAreCutWithAMark) {
  std::string long_id(100000, 'a');
  // 127 bytes of 'b' then two-byte characters: the cut at 128 falls inside
  // one, which is left out whole.
  std::string long_sender = std::string(127, 'b') + std::string(40, '\xc3');
  for (size_t i = 127; i < long_sender.size(); i += 2)
    long_sender[i + 1] = '\xa9';
  CallRecord record =
      Record(AsapError(ErrorCode::kMalformedEnvelope, std::string(5000, 'm')));
  record.id = long_id;
  record.sender = long_sender;
  std::string text = FormatCallLine(record, CallLogFormat::kText);
  auto fields = ParseText(text);
  EXPECT_EQ(Value(fields, "id"), std::string(128, 'a') + "...");
  EXPECT_EQ(Value(fields, "sender"), std::string(127, 'b') + "...");
  EXPECT_EQ(Value(fields, "message").size(), 256u + 3);
  EXPECT_LT(text.size(), 1024u);

  rapidjson::Document json;
  json.Parse(FormatCallLine(record, CallLogFormat::kJson).c_str());
  ASSERT_FALSE(json.HasParseError());
  EXPECT_EQ(std::string(json["sender"].GetString()),
            std::string(127, 'b') + "...");
}

// ---- Levels ----

TEST(CallLogLevelTest, NamesParse) {
  EXPECT_EQ(*ParseCallLogLevel("off"), CallLogLevel::kOff);
  EXPECT_EQ(*ParseCallLogLevel("error"), CallLogLevel::kError);
  EXPECT_EQ(*ParseCallLogLevel("warning"), CallLogLevel::kWarning);
  EXPECT_EQ(*ParseCallLogLevel("info"), CallLogLevel::kInfo);
  EXPECT_EQ(ParseCallLogLevel("debug").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseCallLogFormat("text"), CallLogFormat::kText);
  EXPECT_EQ(*ParseCallLogFormat("json"), CallLogFormat::kJson);
  EXPECT_EQ(ParseCallLogFormat("xml").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CallLogLevelTest, EachLevelTakesItsCallsAndTheMoreSevere) {
  absl::Status ok = absl::OkStatus();
  absl::Status refused = AsapError(ErrorCode::kRateLimited, "slow down");
  absl::Status broken = AsapError(ErrorCode::kInternal, "the handler threw");
  struct Case {
    CallLogLevel level;
    bool ok, refused, broken;
  };
  for (const Case& c : std::vector<Case>{
           {CallLogLevel::kOff, false, false, false},
           {CallLogLevel::kError, false, false, true},
           {CallLogLevel::kWarning, false, true, true},
           {CallLogLevel::kInfo, true, true, true},
       }) {
    std::vector<std::string> lines;
    CallLogOptions options;
    options.level = c.level;
    options.sink = [&](absl::string_view line) { lines.emplace_back(line); };
    CallLog log(std::move(options));
    EXPECT_EQ(log.enabled(), c.level != CallLogLevel::kOff);
    log.Record(Record(ok));
    log.Record(Record(refused));
    log.Record(Record(broken));
    EXPECT_EQ(lines.size(), static_cast<size_t>(c.ok + c.refused + c.broken))
        << static_cast<int>(c.level);
  }
}

TEST(CallLogTest, StreamSinkGetsWholeLines) {
  std::ostringstream out;
  CallLogOptions options;
  options.level = CallLogLevel::kInfo;
  options.sink = CallLogToStream(&out);
  CallLog log(std::move(options));
  log.Record(Record());
  log.Record(Record());
  EXPECT_EQ(out.str(), FormatCallLine(Record(), CallLogFormat::kText) +
                           FormatCallLine(Record(), CallLogFormat::kText));
}

TEST(CallLogTest, ConcurrentCallsWriteOneLineAtATime) {
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::vector<std::string> lines;  // written only inside the sink
  CallLogOptions options;
  options.level = CallLogLevel::kInfo;
  options.format = CallLogFormat::kJson;
  options.sink = [&](absl::string_view line) {
    if (inside.fetch_add(1) != 0) overlapped = true;
    lines.emplace_back(line);
    inside.fetch_sub(1);
  };
  CallLog log(std::move(options));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&log] {
      for (int i = 0; i < 200; ++i) log.Record(Record());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(overlapped);
  ASSERT_EQ(lines.size(), 1600u);
  for (const std::string& line : lines) {
    EXPECT_EQ(line, FormatCallLine(Record(), CallLogFormat::kJson));
  }
}

// ---- Through a server ----

// Collects a server's call log lines, parsed as JSON.
class CallLogServerTest : public ::testing::Test {
 protected:
  void Start(CallLogLevel level) {
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    options.call_log.level = level;
    options.call_log.format = CallLogFormat::kJson;
    options.call_log.sink = [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
    server_ =
        testing::StartTestServer(asap::EchoHandlers(), std::move(options));
    ASSERT_NE(server_, nullptr);
  }

  std::unique_ptr<AsapClient> Client(const std::string& target) {
    ClientOptions options;
    options.target = target;
    options.retry.max_retries = 0;
    options.http.retry.max_retries = 0;
    absl::StatusOr<std::unique_ptr<AsapClient>> client =
        AsapClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // The lines written so far, each checked to be one JSON object on one
  // line, and forgotten.
  std::vector<rapidjson::Document> TakeLines() {
    std::vector<std::string> lines;
    {
      absl::MutexLock lock(&mu_);
      lines.swap(lines_);
    }
    std::vector<rapidjson::Document> parsed;
    for (const std::string& line : lines) {
      ExpectOneSafeLine(line);
      rapidjson::Document json;
      json.Parse(line.c_str());
      EXPECT_FALSE(json.HasParseError()) << line;
      EXPECT_TRUE(json.IsObject()) << line;
      if (json.IsObject()) parsed.push_back(std::move(json));
    }
    return parsed;
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<AsapServer> server_;
};

std::string Str(const rapidjson::Value& value) {
  return value.IsString()
             ? std::string(value.GetString(), value.GetStringLength())
             : "<not a string>";
}

TEST_F(CallLogServerTest, UnarySendLogsOneLineOnEachBinding) {
  Start(CallLogLevel::kInfo);
  for (const std::string& target :
       {server_->address(), absl::StrCat("http://", server_->http_address())}) {
    SCOPED_TRACE(target);
    std::unique_ptr<AsapClient> client = Client(target);
    ASSERT_NE(client, nullptr);
    v1::Envelope request = asap::testing::EchoRequest("hi", kAlice);
    request.set_trace_id("trace-42");
    absl::StatusOr<v1::Envelope> response = client->Send(request);
    ASSERT_TRUE(response.ok()) << response.status();
    // The line is written before the answer leaves the server.
    std::vector<rapidjson::Document> lines = TakeLines();
    ASSERT_EQ(lines.size(), 1u);
    const rapidjson::Document& line = lines[0];
    EXPECT_EQ(Str(line["binding"]),
              absl::StartsWith(target, "http://") ? "http" : "grpc");
    EXPECT_EQ(Str(line["id"]), response->correlation_id());
    EXPECT_EQ(Str(line["trace_id"]), "trace-42");
    EXPECT_EQ(Str(line["sender"]), kAlice);
    EXPECT_EQ(Str(line["payload_type"]), "task.request");
    EXPECT_EQ(Str(line["outcome"]), "OK");
    EXPECT_EQ(Str(line["code"]), "OK");
    EXPECT_EQ(Str(line["level"]), "info");
    ASSERT_TRUE(line["latency_ms"].IsNumber());
    EXPECT_GE(line["latency_ms"].GetDouble(), 0);
  }
}

TEST_F(CallLogServerTest, BatchLogsEachEnvelope) {
  Start(CallLogLevel::kInfo);
  std::unique_ptr<AsapClient> client = Client(server_->address());
  ASSERT_NE(client, nullptr);
  std::vector<v1::Envelope> batch = {asap::testing::EchoRequest("a", kAlice),
                                     asap::testing::EchoRequest("b", kAlice),
                                     asap::testing::EchoRequest("c", kAlice)};
  batch[1].set_payload_type("nobody.handles");
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(std::move(batch));
  ASSERT_TRUE(results.ok()) << results.status();
  std::vector<rapidjson::Document> lines = TakeLines();
  ASSERT_EQ(lines.size(), 3u);
  int ok = 0, not_found = 0;
  for (const rapidjson::Document& line : lines) {
    if (Str(line["outcome"]) == "OK") ++ok;
    if (Str(line["outcome"]) == "asap:transport/handler_not_found") {
      ++not_found;
      EXPECT_EQ(Str(line["code"]), "UNIMPLEMENTED");
      EXPECT_EQ(Str(line["level"]), "warning");
      EXPECT_EQ(Str(line["payload_type"]), "nobody.handles");
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(not_found, 1);
}

TEST_F(CallLogServerTest, StreamLogsOneLineWhenItEnds) {
  Start(CallLogLevel::kInfo);
  std::unique_ptr<AsapClient> client = Client(server_->address());
  ASSERT_NE(client, nullptr);
  v1::Envelope request = asap::testing::EchoRequest("", kAlice);
  request.set_payload_type("echo.stream");
  request.mutable_payload()->clear_fields();
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields["text"].set_string_value("hello");
  fields["steps"].set_number_value(3);
  int updates = 0;
  absl::StatusOr<v1::Envelope> response =
      client->SendStream(request, [&](const v1::Envelope&) { ++updates; });
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(updates, 3);
  std::vector<rapidjson::Document> lines = TakeLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Str(lines[0]["payload_type"]), "echo.stream");
  EXPECT_EQ(Str(lines[0]["outcome"]), "OK");
}

TEST_F(CallLogServerTest, WarningLevelLogsOnlyFailuresWithHostileValuesSafe) {
  Start(CallLogLevel::kWarning);
  std::unique_ptr<AsapClient> client = Client(server_->address());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(asap::testing::EchoRequest("fine", kAlice)).ok());
  EXPECT_TRUE(TakeLines().empty());

  // Straight to the service, past any client-side check: a sender that
  // tries to forge a second line and a field.
  std::string hostile = "urn:asap:agent:x\n{\"level\":\"info\"} \"level\":1";
  v1::Envelope request = asap::testing::EchoRequest("bad", hostile);
  FillEnvelopeDefaults(&request, absl::Now());
  auto stub = v1::AsapService::NewStub(grpc::CreateChannel(
      server_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::Envelope response;
  grpc::Status status = stub->Send(&context, request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<rapidjson::Document> lines = TakeLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Str(lines[0]["sender"]), hostile);
  EXPECT_EQ(Str(lines[0]["level"]), "warning");
  EXPECT_EQ(Str(lines[0]["outcome"]), "asap:protocol/malformed_envelope");
  EXPECT_EQ(Str(lines[0]["id"]), request.id());
}

TEST_F(CallLogServerTest, OffWritesNothing) {
  Start(CallLogLevel::kOff);
  std::unique_ptr<AsapClient> client = Client(server_->address());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(asap::testing::EchoRequest("quiet", kAlice)).ok());
  EXPECT_FALSE(client->Send(asap::testing::EchoRequest("x", "not-a-urn")).ok());
  EXPECT_TRUE(TakeLines().empty());
}

}  // namespace
}  // namespace asap
