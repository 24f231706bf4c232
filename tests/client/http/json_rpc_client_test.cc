// Unit tests of the client's JSON-RPC framing for ASAP's HTTP binding
// (/work/shared/HTTP_BINDING.md): request bodies, answers, HTTP errors and
// the Retry-After / Cache-Control readers. No network: every answer is a
// literal body.
#include "client/http/json_rpc_client.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "asap/v1/envelope.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace asap::internal {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::Not;
using EnvelopeOr = absl::StatusOr<v1::Envelope>;

constexpr char kEnvelopeId[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

// A v1.0 envelope as JSON (the members of an answer's `result.envelope`).
// `extra` is spliced in after the last member (start it with a comma).
std::string EnvelopeJson(absl::string_view extra = "") {
  return absl::StrCat(
      R"({"id":"01ARZ3NDEKTSV4RRFFQ69G5FAW","asap_version":"1.0",)"
      R"("timestamp":"2024-01-02T03:04:05Z","sender":"urn:asap:agent:b",)"
      R"("recipient":"urn:asap:agent:a","payload_type":"task.response",)"
      R"("payload":{"status":"completed","n":3,"list":[true,null,"x"]},)"
      R"("correlation_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV")",
      extra, "}");
}

// A success answer carrying `envelope_json`.
std::string ResultAnswer(absl::string_view envelope_json,
                         absl::string_view id = "1") {
  return absl::StrCat(R"({"jsonrpc":"2.0","result":{"envelope":)",
                      envelope_json, R"(},"id":)", id, "}");
}

// An error answer with code `code`, `data` (JSON text, or empty for none).
std::string ErrorAnswer(int code, absl::string_view data,
                        absl::string_view id = "1",
                        absl::string_view message = "Some error") {
  std::string error =
      absl::StrCat(R"({"code":)", code, R"(,"message":")", message, "\"");
  if (!data.empty()) absl::StrAppend(&error, R"(,"data":)", data);
  return absl::StrCat(R"({"jsonrpc":"2.0","error":)", error, R"(},"id":)", id,
                      "}");
}

v1::Envelope RequestEnvelope() {
  v1::Envelope envelope;
  envelope.set_id(kEnvelopeId);
  envelope.set_asap_version("1.0");
  envelope.set_timestamp("2024-01-02T03:04:05Z");
  envelope.set_sender("urn:asap:agent:a");
  envelope.set_recipient("urn:asap:agent:b");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["skill_id"].set_string_value("echo \"quoted\" \\ \xC3\xA9 \n end");
  fields["count"].set_number_value(2.5);
  fields["flag"].set_bool_value(true);
  auto& nested = *fields["nested"].mutable_struct_value()->mutable_fields();
  nested["empty"].mutable_list_value();
  (*envelope.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
      "n-1");
  envelope.set_trace_id("trace-1");
  return envelope;
}

std::string ToText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Checks that `request` is one asap.send request for `expected` with id
// `id`, and that its envelope reads back (with asap::EnvelopeFromJson, the
// protobuf-based reader) to `expected`.
void ExpectSendRequest(const rapidjson::Value& request,
                       const v1::Envelope& expected, int64_t id) {
  ASSERT_TRUE(request.IsObject());
  ASSERT_TRUE(request.HasMember("jsonrpc"));
  EXPECT_STREQ(request["jsonrpc"].GetString(), "2.0");
  ASSERT_TRUE(request.HasMember("method"));
  EXPECT_STREQ(request["method"].GetString(), "asap.send");
  ASSERT_TRUE(request.HasMember("id"));
  ASSERT_TRUE(request["id"].IsInt64());
  EXPECT_EQ(request["id"].GetInt64(), id);
  ASSERT_TRUE(request.HasMember("params"));
  const rapidjson::Value& params = request["params"];
  ASSERT_TRUE(params.IsObject());
  ASSERT_TRUE(params.HasMember("envelope"));
  absl::StatusOr<v1::Envelope> envelope =
      EnvelopeFromJson(ToText(params["envelope"]));
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*envelope, expected))
      << envelope->DebugString() << "\nvs\n"
      << expected.DebugString();
  if (expected.id().empty()) {
    EXPECT_FALSE(params.HasMember("idempotency_key"));
  } else {
    ASSERT_TRUE(params.HasMember("idempotency_key"));
    ASSERT_TRUE(params["idempotency_key"].IsString());
    EXPECT_EQ(params["idempotency_key"].GetString(), expected.id());
  }
}

// ---------------------------------------------------------------------------
// ParseJsonRpcSendAnswer: the binding's error table.

struct ErrorCase {
  std::string name;
  std::string body;
  ErrorCode expected;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class JsonRpcErrorMappingTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonRpcErrorMappingTest, MapsToAsapCode) {
  const ErrorCase& c = GetParam();
  EnvelopeOr answer = ParseJsonRpcSendAnswer(c.body);
  ASSERT_FALSE(answer.ok()) << c.body;
  EXPECT_EQ(ErrorCodeOf(answer.status()), c.expected)
      << answer.status() << "\nbody: " << c.body;
  EXPECT_EQ(answer.status().code(), StatusCodeFor(c.expected))
      << answer.status();
}

INSTANTIATE_TEST_SUITE_P(
    BindingErrorTable, JsonRpcErrorMappingTest,
    ::testing::ValuesIn(std::vector<ErrorCase>{
        {"ParseError",
         ErrorAnswer(-32700, R"({"error":"Invalid JSON: Expecting value"})",
                     "null", "Parse error"),
         ErrorCode::kMalformedEnvelope},
        {"InvalidRequestNotAnObject",
         ErrorAnswer(-32600,
                     R"({"error":"Request must be an object",)"
                     R"("received_type":"list"})",
                     "null", "Invalid Request"),
         ErrorCode::kMalformedEnvelope},
        {"InvalidRequestValidationErrors",
         ErrorAnswer(-32600,
                     R"({"error":"Invalid request",)"
                     R"("validation_errors":[{"loc":["method"],)"
                     R"("msg":"Field required"}]})",
                     "\"req-1\"", "Invalid Request"),
         ErrorCode::kMalformedEnvelope},
        {"MethodNotFound",
         ErrorAnswer(-32601, R"({"method":"asap.receive"})", "1",
                     "Method not found"),
         ErrorCode::kHandlerNotFound},
        {"HandlerNotFoundForPayloadType",
         ErrorAnswer(-32601,
                     R"({"payload_type":"task.unknown",)"
                     R"("error":"No handler registered"})",
                     "1", "Method not found"),
         ErrorCode::kHandlerNotFound},
        {"ParamsNotAnObject", ErrorAnswer(-32602, "", "1", "Invalid params"),
         ErrorCode::kMalformedEnvelope},
        {"EnvelopeValidation",
         ErrorAnswer(-32602,
                     R"({"error":"Invalid envelope",)"
                     R"("validation_errors":["sender: not an agent URN"]})",
                     "1", "Invalid params"),
         ErrorCode::kMalformedEnvelope},
        {"InvalidTimestamp",
         ErrorAnswer(-32602,
                     R"({"code":"asap:protocol/invalid_timestamp",)"
                     R"("message":"Envelope timestamp is too old",)"
                     R"("details":{"age_seconds":301}})",
                     "1", "Invalid params"),
         ErrorCode::kInvalidTimestamp},
        {"InvalidNonce",
         ErrorAnswer(-32602,
                     R"({"code":"asap:protocol/invalid_nonce",)"
                     R"("message":"Duplicate nonce","details":{}})",
                     "1", "Invalid params"),
         ErrorCode::kInvalidNonce},
        {"HandlerFailed",
         ErrorAnswer(-32603, R"({"error":"Internal server error"})", "1",
                     "Internal error"),
         ErrorCode::kInternal},
        {"HandlerFailedWithoutData",
         ErrorAnswer(-32603, "", "1", "Internal error"), ErrorCode::kInternal},
        {"V2BandPayloadTooLarge",
         ErrorAnswer(-32010, R"({"code":"asap:transport/payload_too_large",)"
                             R"("message":"too big","details":{}})"),
         ErrorCode::kPayloadTooLarge},
        {"V2BandTaskNotFound",
         ErrorAnswer(-32005,
                     R"({"code":"asap:task/not_found","message":"no task"})"),
         ErrorCode::kTaskNotFound},
        {"V2BandInternal",
         ErrorAnswer(-32000, R"({"code":"asap:internal/error"})"),
         ErrorCode::kInternal},
        // data.code overrides the JSON-RPC code even where that code maps
        // to something else.
        {"DataCodeWinsOverJsonRpcCode",
         ErrorAnswer(-32601, R"({"code":"asap:protocol/invalid_nonce"})"),
         ErrorCode::kInvalidNonce},
        // A data.code this build does not know: the JSON-RPC code decides.
        {"UnknownDataCodeFallsBackToInvalidParams",
         ErrorAnswer(-32602, R"({"code":"asap:protocol/from_the_future"})"),
         ErrorCode::kMalformedEnvelope},
        {"UnknownDataCodeFallsBackToMethodNotFound",
         ErrorAnswer(-32601, R"({"code":"asap:transport/teleport_failed"})"),
         ErrorCode::kHandlerNotFound},
        {"UnknownDataCodeInV2BandIsInternal",
         ErrorAnswer(-32042, R"({"code":"asap:transport/teleport_failed"})"),
         ErrorCode::kInternal},
        {"DataCodeNotAStringIsIgnored", ErrorAnswer(-32602, R"({"code":17})"),
         ErrorCode::kMalformedEnvelope},
        {"DataNotAnObjectIsIgnored",
         ErrorAnswer(-32601, R"("asap:protocol/invalid_nonce")"),
         ErrorCode::kHandlerNotFound},
        {"RateLimitedInJsonRpcBody",
         ErrorAnswer(429, R"({"retry_after":1,"limit":"10/second"})", "1",
                     "Rate limit exceeded"),
         ErrorCode::kRateLimited},
        {"UnknownCodeIsInternal", ErrorAnswer(-1, ""), ErrorCode::kInternal},
        {"CodeMissingIsInternal",
         R"({"jsonrpc":"2.0","error":{"message":"x"},"id":1})",
         ErrorCode::kInternal},
        {"CodeNotAnIntegerIsInternal",
         R"({"jsonrpc":"2.0","error":{"code":"-32601"},"id":1})",
         ErrorCode::kInternal},
    }),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return info.param.name;
    });

TEST(JsonRpcErrorMessageTest, MessageNamesJsonRpcCodeMessageAndData) {
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ErrorAnswer(
      -32601, R"({"payload_type":"task.unknown"})", "1", "Method not found"));
  ASSERT_FALSE(answer.ok());
  const std::string message(answer.status().message());
  EXPECT_THAT(message, HasSubstr("asap:transport/handler_not_found"));
  EXPECT_THAT(message, HasSubstr("-32601"));
  EXPECT_THAT(message, HasSubstr("Method not found"));
  EXPECT_THAT(message, HasSubstr("task.unknown"));
}

// ---------------------------------------------------------------------------
// ParseJsonRpcSendAnswer: success answers.

TEST(JsonRpcSendAnswerTest, ResultEnvelopeIsParsed) {
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ResultAnswer(EnvelopeJson()));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->id(), "01ARZ3NDEKTSV4RRFFQ69G5FAW");
  EXPECT_EQ(answer->asap_version(), "1.0");
  EXPECT_EQ(answer->timestamp(), "2024-01-02T03:04:05Z");
  EXPECT_EQ(answer->sender(), "urn:asap:agent:b");
  EXPECT_EQ(answer->recipient(), "urn:asap:agent:a");
  EXPECT_EQ(answer->payload_type(), "task.response");
  EXPECT_EQ(answer->correlation_id(), kEnvelopeId);
  const auto& payload = answer->payload().fields();
  ASSERT_EQ(payload.count("status"), 1u);
  EXPECT_EQ(payload.at("status").string_value(), "completed");
  ASSERT_EQ(payload.count("n"), 1u);
  EXPECT_EQ(payload.at("n").number_value(), 3);
  ASSERT_EQ(payload.count("list"), 1u);
  EXPECT_EQ(payload.at("list").list_value().values_size(), 3);
  EXPECT_FALSE(answer->has_extensions());
}

TEST(JsonRpcSendAnswerTest, AnswerIdIsNotChecked) {
  // A single answer is the answer to the one request, whatever its id.
  for (absl::string_view id : {"1", "\"req-1\"", "null", "99"}) {
    EnvelopeOr answer =
        ParseJsonRpcSendAnswer(ResultAnswer(EnvelopeJson(), id));
    EXPECT_TRUE(answer.ok()) << id << ": " << answer.status();
  }
}

TEST(JsonRpcSendAnswerTest, SameAsEnvelopeFromJson) {
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ResultAnswer(EnvelopeJson()));
  EnvelopeOr reference = EnvelopeFromJson(EnvelopeJson());
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*answer, *reference));
}

TEST(JsonRpcSendAnswerTest, V2RequiresAckIsAcceptedAndDropped) {
  for (absl::string_view ack : {"false", "true"}) {
    EnvelopeOr answer = ParseJsonRpcSendAnswer(
        ResultAnswer(EnvelopeJson(absl::StrCat(R"(,"requires_ack":)", ack))));
    ASSERT_TRUE(answer.ok()) << ack << ": " << answer.status();
    EnvelopeOr without = EnvelopeFromJson(EnvelopeJson());
    ASSERT_TRUE(without.ok());
    EXPECT_TRUE(MessageDifferencer::Equals(*answer, *without));
  }
}

TEST(JsonRpcSendAnswerTest, OtherUnknownEnvelopeMemberIsAnError) {
  EnvelopeOr answer = ParseJsonRpcSendAnswer(
      ResultAnswer(EnvelopeJson(R"(,"requires_ack":false,"surprise":1)")));
  ASSERT_FALSE(answer.ok());
  EXPECT_THAT(answer.status().message(), HasSubstr("surprise"));
}

TEST(JsonRpcSendAnswerTest, NullMembersAreFine) {
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ResultAnswer(EnvelopeJson(
      R"(,"trace_id":null,"extensions":null,"requires_ack":false)")));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->trace_id(), "");
  EXPECT_FALSE(answer->has_extensions());
  EXPECT_EQ(answer->payload_type(), "task.response");
}

TEST(JsonRpcSendAnswerTest, EmptyEnvelopeObjectIsAnEmptyEnvelope) {
  // Parsing does not validate: that is the caller's business.
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ResultAnswer("{}"));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*answer, v1::Envelope()));
}

// ---------------------------------------------------------------------------
// ParseJsonRpcSendAnswer: bodies that are not JSON-RPC answers.

struct GarbageCase {
  std::string name;
  std::string body;
};

void PrintTo(const GarbageCase& c, std::ostream* os) { *os << c.name; }

class JsonRpcGarbageTest : public ::testing::TestWithParam<GarbageCase> {};

TEST_P(JsonRpcGarbageTest, IsInternalError) {
  const GarbageCase& c = GetParam();
  EnvelopeOr answer = ParseJsonRpcSendAnswer(c.body);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kInternal)
      << answer.status();
  EXPECT_LT(answer.status().message().size(), 1000u);
}

std::string Repeat(absl::string_view text, size_t times) {
  std::string out;
  out.reserve(text.size() * times);
  for (size_t i = 0; i < times; ++i) out.append(text.data(), text.size());
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, JsonRpcGarbageTest,
    ::testing::ValuesIn(std::vector<GarbageCase>{
        {"Empty", ""},
        {"NotJson", "<html>Bad Gateway</html>"},
        {"TruncatedJson", R"({"jsonrpc":"2.0","result":{"envelope":{)"},
        {"TrailingGarbage", ResultAnswer(EnvelopeJson()) + "}"},
        {"InvalidUtf8", "{\"jsonrpc\":\"2.0\",\"error\":\"\xFF\xFE\"}"},
        {"ArrayForSingleAnswer",
         absl::StrCat("[", ResultAnswer(EnvelopeJson()), "]")},
        {"String", R"("hello")"},
        {"Number", "42"},
        {"Null", "null"},
        {"ResultWithoutEnvelope",
         R"({"jsonrpc":"2.0","result":{"answer":1},"id":1})"},
        {"ResultNotAnObject", R"({"jsonrpc":"2.0","result":"ok","id":1})"},
        {"ResultNull", R"({"jsonrpc":"2.0","result":null,"id":1})"},
        {"EnvelopeNotAnObject",
         R"({"jsonrpc":"2.0","result":{"envelope":[]},"id":1})"},
        {"EnvelopeNull",
         R"({"jsonrpc":"2.0","result":{"envelope":null},"id":1})"},
        {"NeitherResultNorError", R"({"jsonrpc":"2.0","id":1})"},
        {"EmptyObject", "{}"},
        {"ErrorNotAnObject", R"({"jsonrpc":"2.0","error":"boom","id":1})"},
        {"ErrorArray", R"({"jsonrpc":"2.0","error":[-32601],"id":1})"},
        {"ErrorNull", R"({"jsonrpc":"2.0","error":null,"id":1})"},
        {"DeeplyNestedArray", Repeat("[", 200000) + Repeat("]", 200000)},
        {"DeeplyNestedInUnknownMember",
         absl::StrCat(R"({"jsonrpc":"2.0","junk":)", Repeat("[", 200000),
                      Repeat("]", 200000), "}")},
        {"DeeplyNestedResult",
         absl::StrCat(R"({"jsonrpc":"2.0","id":1,"result":)",
                      Repeat(R"({"a":)", 100000), "1", Repeat("}", 100000),
                      "}")},
        {"HugeString", absl::StrCat("\"", std::string(1 << 20, 'x'), "\"")},
        {"HugeNotJson", std::string(1 << 20, 'x')},
    }),
    [](const ::testing::TestParamInfo<GarbageCase>& info) {
      return info.param.name;
    });

// A server's error `data` nests without bound: quoting it in the message
// must neither recurse that deep nor grow the message.
TEST(JsonRpcSendAnswerTest, DeeplyNestedErrorDataIsQuotedBriefly) {
  constexpr size_t kDepth = 1000000;
  for (absl::string_view open_close : {"[]", "{}"}) {
    std::string data;
    if (open_close == "[]") {
      data = Repeat("[", kDepth) + Repeat("]", kDepth);
    } else {
      data = Repeat(R"({"a":)", kDepth) + "0" + Repeat("}", kDepth);
    }
    EnvelopeOr answer = ParseJsonRpcSendAnswer(ErrorAnswer(-32602, data));
    ASSERT_FALSE(answer.ok());
    EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kMalformedEnvelope)
        << answer.status().ToString().substr(0, 300);
    EXPECT_LT(answer.status().message().size(), 1000u);
  }
}

TEST(JsonRpcSendAnswerTest, HugeErrorMessageIsQuotedBriefly) {
  const std::string huge(1 << 20, 'm');
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ErrorAnswer(
      -32603, absl::StrCat(R"({"error":")", huge, "\"}"), "1", huge));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kInternal);
  // About 200 bytes of the message and 200 of the data, plus framing.
  EXPECT_LT(answer.status().message().size(), 1000u);
  EXPECT_THAT(answer.status().message(), HasSubstr("mmmm"));
}

TEST(JsonRpcSendAnswerTest, HugeErrorDataIsQuotedBriefly) {
  std::string data = "[";
  for (int i = 0; i < 100000; ++i) {
    absl::StrAppend(&data, i == 0 ? "" : ",", i);
  }
  data += "]";
  EnvelopeOr answer = ParseJsonRpcSendAnswer(ErrorAnswer(-32603, data));
  ASSERT_FALSE(answer.ok());
  EXPECT_LT(answer.status().message().size(), 1000u);
}

TEST(JsonRpcSendAnswerTest, NotJsonMessageQuotesBodyBriefly) {
  EnvelopeOr answer = ParseJsonRpcSendAnswer(std::string(1 << 20, '<'));
  ASSERT_FALSE(answer.ok());
  EXPECT_LT(answer.status().message().size(), 1000u);
}

// ---------------------------------------------------------------------------
// ParseJsonRpcBatchAnswer.

using BatchOr = absl::StatusOr<std::vector<EnvelopeOr>>;

// An answer for request `id` whose envelope's payload_type is `tag`.
std::string TaggedResult(int64_t id, absl::string_view tag) {
  return absl::StrCat(R"({"jsonrpc":"2.0","result":{"envelope":{)",
                      R"("payload_type":")", tag, R"("}},"id":)", id, "}");
}

TEST(JsonRpcBatchAnswerTest, AnswersInOrder) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat("[", TaggedResult(10, "a"), ",", TaggedResult(11, "b"), ",",
                   TaggedResult(12, "c"), "]"),
      10, 3);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  const char* tags[] = {"a", "b", "c"};
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE((*batch)[i].ok()) << (*batch)[i].status();
    EXPECT_EQ((*batch)[i]->payload_type(), tags[i]);
  }
}

TEST(JsonRpcBatchAnswerTest, AnswersOutOfOrderAreMatchedById) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat("[", TaggedResult(12, "c"), ",",
                   ErrorAnswer(-32601, R"({"payload_type":"x"})", "10"), ",",
                   TaggedResult(11, "b"), "]"),
      10, 3);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  ASSERT_FALSE((*batch)[0].ok());
  EXPECT_EQ(ErrorCodeOf((*batch)[0].status()), ErrorCode::kHandlerNotFound);
  ASSERT_TRUE((*batch)[1].ok()) << (*batch)[1].status();
  EXPECT_EQ((*batch)[1]->payload_type(), "b");
  ASSERT_TRUE((*batch)[2].ok()) << (*batch)[2].status();
  EXPECT_EQ((*batch)[2]->payload_type(), "c");
}

TEST(JsonRpcBatchAnswerTest, MissingAnswerIsAnErrorAtItsPosition) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat("[", TaggedResult(3, "c"), ",", TaggedResult(1, "a"), "]"),
      1, 3);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_TRUE((*batch)[0].ok());
  ASSERT_FALSE((*batch)[1].ok());
  EXPECT_EQ(ErrorCodeOf((*batch)[1].status()), ErrorCode::kInternal);
  EXPECT_TRUE((*batch)[2].ok());
}

TEST(JsonRpcBatchAnswerTest, EmptyArrayLeavesEveryPositionUnanswered) {
  BatchOr batch = ParseJsonRpcBatchAnswer("[]", 1, 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  for (const EnvelopeOr& answer : *batch) {
    ASSERT_FALSE(answer.ok());
    EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kInternal);
  }
}

TEST(JsonRpcBatchAnswerTest, ZeroRequests) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat("[", TaggedResult(1, "a"), "]"), 1, 0);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->empty());
}

TEST(JsonRpcBatchAnswerTest, UnknownAndOutOfRangeIdsAreIgnored) {
  const std::string answers[] = {
      TaggedResult(4, "below"),  // first_id - 1
      TaggedResult(7, "above"),  // first_id + count
      TaggedResult(-1, "negative"),
      TaggedResult(INT64_MAX, "max"),
      R"({"jsonrpc":"2.0","result":{"envelope":{}},"id":"5"})",
      R"({"jsonrpc":"2.0","result":{"envelope":{}},"id":null})",
      R"({"jsonrpc":"2.0","result":{"envelope":{}},"id":5.0})",
      R"({"jsonrpc":"2.0","result":{"envelope":{}},"id":5.5})",
      R"({"jsonrpc":"2.0","result":{"envelope":{}},"id":18446744073709551615})",
      R"({"jsonrpc":"2.0","result":{"envelope":{}},"id":1e300})",
      R"({"jsonrpc":"2.0","result":{"envelope":{}}})",
      ErrorAnswer(-32700, "", "null"),
      R"("not an answer")",
      "[]",
      "null",
      "17",
      TaggedResult(5, "first"),
      TaggedResult(6, "second"),
  };
  std::string body = "[";
  for (const std::string& answer : answers) {
    if (body.size() > 1) body += ",";
    body += answer;
  }
  body += "]";
  BatchOr batch = ParseJsonRpcBatchAnswer(body, 5, 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  ASSERT_TRUE((*batch)[0].ok()) << (*batch)[0].status();
  EXPECT_EQ((*batch)[0]->payload_type(), "first");
  ASSERT_TRUE((*batch)[1].ok()) << (*batch)[1].status();
  EXPECT_EQ((*batch)[1]->payload_type(), "second");
}

TEST(JsonRpcBatchAnswerTest, ExtremeIdsDoNotOverflow) {
  // id - first_id must not overflow int64 (UBSan checks this under
  // --config=asan).
  const std::string body = absl::StrCat("[", TaggedResult(INT64_MIN, "min"),
                                        ",", TaggedResult(INT64_MAX, "max"),
                                        ",", TaggedResult(1, "a"), "]");
  for (int64_t first_id : {int64_t{1}, int64_t{-1}, INT64_MAX, INT64_MIN}) {
    BatchOr batch = ParseJsonRpcBatchAnswer(body, first_id, 1);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->size(), 1u);
    const EnvelopeOr& answer = (*batch)[0];
    if (first_id == 1) {
      ASSERT_TRUE(answer.ok()) << answer.status();
      EXPECT_EQ(answer->payload_type(), "a");
    } else if (first_id == INT64_MAX) {
      ASSERT_TRUE(answer.ok()) << answer.status();
      EXPECT_EQ(answer->payload_type(), "max");
    } else if (first_id == INT64_MIN) {
      ASSERT_TRUE(answer.ok()) << answer.status();
      EXPECT_EQ(answer->payload_type(), "min");
    } else {
      EXPECT_FALSE(answer.ok()) << first_id;
    }
  }
}

TEST(JsonRpcBatchAnswerTest, DuplicateIdIsIgnored) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat("[", TaggedResult(1, "a"), ",", TaggedResult(2, "b"), ",",
                   TaggedResult(1, "a-again"), ",",
                   ErrorAnswer(-32603, "", "2"), "]"),
      1, 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  ASSERT_TRUE((*batch)[0].ok()) << (*batch)[0].status();
  EXPECT_EQ((*batch)[0]->payload_type(), "a");
  ASSERT_TRUE((*batch)[1].ok()) << (*batch)[1].status();
  EXPECT_EQ((*batch)[1]->payload_type(), "b");
}

TEST(JsonRpcBatchAnswerTest, BadItemFailsOnlyItsPosition) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat("[", TaggedResult(1, "a"), ",",
                   R"({"jsonrpc":"2.0","result":{"answer":1},"id":2})", ",",
                   ResultAnswer(EnvelopeJson(R"(,"surprise":1)"), "3"), ",",
                   R"({"jsonrpc":"2.0","error":"boom","id":4})", "]"),
      1, 4);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 4u);
  EXPECT_TRUE((*batch)[0].ok());
  EXPECT_FALSE((*batch)[1].ok());
  EXPECT_FALSE((*batch)[2].ok());
  EXPECT_FALSE((*batch)[3].ok());
}

TEST(JsonRpcBatchAnswerTest, V2ErrorsInBatchKeepTheirCodes) {
  BatchOr batch = ParseJsonRpcBatchAnswer(
      absl::StrCat(
          "[",
          ErrorAnswer(-32010, R"({"code":"asap:transport/payload_too_large"})",
                      "1"),
          ",",
          ErrorAnswer(-32602, R"({"code":"asap:protocol/invalid_nonce"})", "2"),
          "]"),
      1, 2);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ(ErrorCodeOf((*batch)[0].status()), ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(ErrorCodeOf((*batch)[1].status()), ErrorCode::kInvalidNonce);
}

TEST(JsonRpcBatchAnswerTest, SingleErrorFailsTheWholeBatchWithItsCode) {
  struct Case {
    std::string body;
    ErrorCode expected;
  };
  const Case cases[] = {
      {ErrorAnswer(-32600, R"({"error":"Batch too long"})", "null",
                   "Invalid Request"),
       ErrorCode::kMalformedEnvelope},
      {ErrorAnswer(-32700, R"({"error":"Invalid JSON"})", "null"),
       ErrorCode::kMalformedEnvelope},
      {ErrorAnswer(-32010, R"({"code":"asap:transport/payload_too_large"})",
                   "null"),
       ErrorCode::kPayloadTooLarge},
      {ErrorAnswer(429, R"({"retry_after":1})", "null"),
       ErrorCode::kRateLimited},
  };
  for (const Case& c : cases) {
    BatchOr batch = ParseJsonRpcBatchAnswer(c.body, 1, 3);
    ASSERT_FALSE(batch.ok()) << c.body;
    EXPECT_EQ(ErrorCodeOf(batch.status()), c.expected) << batch.status();
  }
}

TEST(JsonRpcBatchAnswerTest, NotAnArrayFailsAsAWhole) {
  const std::string bodies[] = {
      "",
      "not json",
      "[",
      "42",
      "\"answers\"",
      "null",
      "true",
      // One success answer for a whole batch is no batch answer.
      TaggedResult(1, "a"),
      "{}",
      R"({"jsonrpc":"2.0","id":1})",
      Repeat("[", 200000) + Repeat("]", 200000),
  };
  for (const std::string& body : bodies) {
    BatchOr batch = ParseJsonRpcBatchAnswer(body, 1, 2);
    if (body.size() > 2 && body[0] == '[' && body[1] == '[') {
      // Deeply nested: an array whose one item is not an answer.
      ASSERT_TRUE(batch.ok()) << batch.status();
      ASSERT_EQ(batch->size(), 2u);
      EXPECT_FALSE((*batch)[0].ok());
      EXPECT_FALSE((*batch)[1].ok());
      continue;
    }
    ASSERT_FALSE(batch.ok()) << body;
    EXPECT_EQ(ErrorCodeOf(batch.status()), ErrorCode::kInternal)
        << batch.status();
  }
}

// ---------------------------------------------------------------------------
// JsonRpcSendBody / AppendJsonRpcSend / JsonRpcBatchBody.

TEST(JsonRpcSendBodyTest, ParsesBackToTheEnvelope) {
  const v1::Envelope envelope = RequestEnvelope();
  const std::string body = JsonRpcSendBody(envelope, 7);
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  ASSERT_FALSE(document.HasParseError()) << body;
  ExpectSendRequest(document, envelope, 7);
  EXPECT_EQ(document["params"]["idempotency_key"].GetString(),
            std::string(kEnvelopeId));
}

TEST(JsonRpcSendBodyTest, EnvelopeWithoutIdHasNoIdempotencyKey) {
  v1::Envelope envelope = RequestEnvelope();
  envelope.clear_id();
  const std::string body = JsonRpcSendBody(envelope, 0);
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  ASSERT_FALSE(document.HasParseError()) << body;
  ExpectSendRequest(document, envelope, 0);
}

TEST(JsonRpcSendBodyTest, EmptyEnvelope) {
  const std::string body = JsonRpcSendBody(v1::Envelope(), 1);
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  ASSERT_FALSE(document.HasParseError()) << body;
  ExpectSendRequest(document, v1::Envelope(), 1);
}

TEST(JsonRpcSendBodyTest, LargeRequestIds) {
  for (int64_t id : {int64_t{0}, int64_t{-1}, INT64_MAX, INT64_MIN}) {
    const std::string body = JsonRpcSendBody(RequestEnvelope(), id);
    rapidjson::Document document;
    document.Parse(body.data(), body.size());
    ASSERT_FALSE(document.HasParseError()) << body;
    ExpectSendRequest(document, RequestEnvelope(), id);
  }
}

TEST(JsonRpcSendBodyTest, AppendKeepsWhatIsThere) {
  // One envelope object: Struct maps print in their own iteration order, so
  // two equal envelopes may print their payload members differently.
  const v1::Envelope envelope = RequestEnvelope();
  std::string out = "prefix:";
  AppendJsonRpcSend(envelope, 3, &out);
  EXPECT_EQ(out, "prefix:" + JsonRpcSendBody(envelope, 3));
}

TEST(JsonRpcSendBodyTest, AnswerToOwnEnvelopeRoundTrips) {
  // The envelope a client sends, echoed back as the result, reads back the
  // same.
  const v1::Envelope envelope = RequestEnvelope();
  const std::string body = JsonRpcSendBody(envelope, 1);
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  ASSERT_FALSE(document.HasParseError());
  EnvelopeOr answer = ParseJsonRpcSendAnswer(
      ResultAnswer(ToText(document["params"]["envelope"])));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*answer, envelope));
}

TEST(JsonRpcBatchBodyTest, SequentialIdsAndEnvelopesInOrder) {
  std::vector<v1::Envelope> envelopes(3, RequestEnvelope());
  envelopes[0].set_id("01ARZ3NDEKTSV4RRFFQ69G5FA0");
  envelopes[1].set_id("01ARZ3NDEKTSV4RRFFQ69G5FA1");
  envelopes[1].set_payload_type("task.other");
  envelopes[2].clear_id();
  std::vector<const v1::Envelope*> pointers;
  for (const v1::Envelope& envelope : envelopes) pointers.push_back(&envelope);

  const std::string body = JsonRpcBatchBody(pointers, 41);
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  ASSERT_FALSE(document.HasParseError()) << body;
  ASSERT_TRUE(document.IsArray());
  ASSERT_EQ(document.Size(), 3u);
  for (rapidjson::SizeType i = 0; i < document.Size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSendRequest(document[i], envelopes[i], 41 + i);
  }
}

TEST(JsonRpcBatchBodyTest, OneAndNone) {
  const v1::Envelope envelope = RequestEnvelope();
  const v1::Envelope* one[] = {&envelope};
  EXPECT_EQ(JsonRpcBatchBody(one, 5),
            absl::StrCat("[", JsonRpcSendBody(envelope, 5), "]"));
  EXPECT_EQ(JsonRpcBatchBody({}, 5), "[]");
}

// ---------------------------------------------------------------------------
// HttpStatusError.

struct HttpCase {
  std::string name;
  int status;
  std::string body;
  ErrorCode expected;
  std::string expected_text;  // Must appear in the message when not empty.
};

void PrintTo(const HttpCase& c, std::ostream* os) { *os << c.name; }

class HttpStatusErrorTest : public ::testing::TestWithParam<HttpCase> {};

constexpr char kUrl[] = "http://agent.example:8000/asap";

TEST_P(HttpStatusErrorTest, MapsToAsapCode) {
  const HttpCase& c = GetParam();
  absl::Status status = HttpStatusError(c.status, c.body, kUrl);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(ErrorCodeOf(status), c.expected) << status;
  EXPECT_EQ(status.code(), StatusCodeFor(c.expected)) << status;
  if (!c.expected_text.empty()) {
    EXPECT_THAT(status.message(), HasSubstr(c.expected_text));
  }
  EXPECT_LT(status.message().size(), 1000u);
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, HttpStatusErrorTest,
    ::testing::ValuesIn(std::vector<HttpCase>{
        {"PayloadTooLarge", 413,
         R"({"detail":"Request body exceeds 10485760 bytes"})",
         ErrorCode::kPayloadTooLarge, "Request body exceeds 10485760 bytes"},
        {"UnsupportedEncoding", 415,
         R"({"detail":"Unsupported Content-Encoding: zstd"})",
         ErrorCode::kUnsupportedEncoding, "Unsupported Content-Encoding: zstd"},
        {"CorruptBody", 400, R"({"detail":"Invalid gzip data"})",
         ErrorCode::kCorruptBody, "Invalid gzip data"},
        {"RateLimitedJsonRpcBody", 429,
         R"({"jsonrpc":"2.0","id":"req-1","error":{"code":429,)"
         R"("message":"Rate limit exceeded",)"
         R"("data":{"retry_after":1,"limit":"10/second"}}})",
         ErrorCode::kRateLimited, "Rate limit exceeded"},
        {"RateLimitedEmptyBody", 429, "", ErrorCode::kRateLimited, ""},
        {"RateLimitedDetail", 429, R"({"detail":"slow down"})",
         ErrorCode::kRateLimited, "slow down"},
        {"InternalServerError", 500, "Internal Server Error",
         ErrorCode::kUnavailable, "500"},
        {"BadGateway", 502, "<html>Bad Gateway</html>", ErrorCode::kUnavailable,
         "502"},
        {"Overloaded", 503,
         R"({"error":"Service Unavailable",)"
         R"("code":"asap:transport/thread_pool_exhausted",)"
         R"("message":"server overloaded"})",
         ErrorCode::kUnavailable, "server overloaded"},
        {"GatewayTimeout", 504, "", ErrorCode::kUnavailable, "504"},
        {"NotFound", 404, R"({"detail":"Not Found"})", ErrorCode::kUnavailable,
         "Not Found"},
        {"Teapot", 418, R"({"detail":"I'm a teapot"})", ErrorCode::kInternal,
         "I'm a teapot"},
        {"UrlInMessage", 502, "", ErrorCode::kUnavailable, kUrl},
        {"JsonRpcErrorWithServerError", 500,
         R"({"jsonrpc":"2.0","id":1,"error":{"code":-32603,)"
         R"("message":"Internal error"}})",
         ErrorCode::kUnavailable, "Internal error"},
        {"DetailNotAString", 413, R"({"detail":[{"msg":"x"}]})",
         ErrorCode::kPayloadTooLarge, "413"},
        {"HugeDetail", 413,
         absl::StrCat(R"({"detail":")", std::string(1 << 20, 'd'), "\"}"),
         ErrorCode::kPayloadTooLarge, "ddd"},
        {"HugeNotJson", 502, std::string(1 << 20, '<'), ErrorCode::kUnavailable,
         "502"},
        {"DeeplyNestedBody", 500, Repeat("[", 200000) + Repeat("]", 200000),
         ErrorCode::kUnavailable, "500"},
    }),
    [](const ::testing::TestParamInfo<HttpCase>& info) {
      return info.param.name;
    });

TEST(HttpStatusErrorDeepTest, DeeplyNestedJsonRpcErrorData) {
  constexpr size_t kDepth = 1000000;
  const std::string body =
      absl::StrCat(R"({"jsonrpc":"2.0","id":1,"error":{"code":429,"data":)",
                   Repeat("[", kDepth), Repeat("]", kDepth), "}}");
  for (int status : {429, 503}) {
    absl::Status error = HttpStatusError(status, body, kUrl);
    EXPECT_EQ(ErrorCodeOf(error), status == 429 ? ErrorCode::kRateLimited
                                                : ErrorCode::kUnavailable);
    EXPECT_LT(error.message().size(), 1000u);
  }
}

// ---------------------------------------------------------------------------
// ParseRetryAfter.

struct RetryAfterCase {
  std::string name;
  std::string value;
  std::optional<absl::Duration> expected;
};

void PrintTo(const RetryAfterCase& c, std::ostream* os) { *os << c.name; }

class ParseRetryAfterTest : public ::testing::TestWithParam<RetryAfterCase> {};

// Tue, 14 Nov 2023 22:13:20 GMT.
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST_P(ParseRetryAfterTest, Reads) {
  const RetryAfterCase& c = GetParam();
  EXPECT_EQ(ParseRetryAfter(c.value, kNow), c.expected)
      << "\"" << c.value << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Values, ParseRetryAfterTest,
    ::testing::ValuesIn(std::vector<RetryAfterCase>{
        {"One", "1", absl::Seconds(1)},
        {"Zero", "0", absl::ZeroDuration()},
        {"Whitespace", "  120 ", absl::Seconds(120)},
        {"Large", "86400", absl::Hours(24)},
        {"Negative", "-1", std::nullopt},
        {"Letters", "abc", std::nullopt},
        {"Empty", "", std::nullopt},
        {"Blank", "   ", std::nullopt},
        {"Fraction", "1.5", std::nullopt},
        {"NumberThenText", "10 seconds", std::nullopt},
        {"DateOneMinuteAhead", "Tue, 14 Nov 2023 22:14:20 GMT",
         absl::Seconds(60)},
        {"DateNow", "Tue, 14 Nov 2023 22:13:20 GMT", absl::ZeroDuration()},
        {"DateNextDay", "Wed, 15 Nov 2023 22:13:21 GMT",
         absl::Hours(24) + absl::Seconds(1)},
        {"DateWithWhitespace", "  Tue, 14 Nov 2023 22:13:30 GMT ",
         absl::Seconds(10)},
        {"DateInThePast", "Tue, 14 Nov 2023 22:12:20 GMT",
         absl::ZeroDuration()},
        {"DateLongAgo", "Thu, 01 Jan 1970 00:00:00 GMT", absl::ZeroDuration()},
        {"DateWithoutZone", "Tue, 14 Nov 2023 22:14:20", std::nullopt},
        {"DateGarbage", "Tue, 99 Nov 2023 22:14:20 GMT", std::nullopt},
    }),
    [](const ::testing::TestParamInfo<RetryAfterCase>& info) {
      return info.param.name;
    });

// ---------------------------------------------------------------------------
// ParseMaxAge.

struct MaxAgeCase {
  std::string name;
  std::string value;
  std::optional<absl::Duration> expected;
};

void PrintTo(const MaxAgeCase& c, std::ostream* os) { *os << c.name; }

class ParseMaxAgeTest : public ::testing::TestWithParam<MaxAgeCase> {};

TEST_P(ParseMaxAgeTest, Reads) {
  const MaxAgeCase& c = GetParam();
  EXPECT_EQ(ParseMaxAge(c.value), c.expected) << "\"" << c.value << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Values, ParseMaxAgeTest,
    ::testing::ValuesIn(std::vector<MaxAgeCase>{
        {"PublicMaxAge", "public, max-age=300", absl::Seconds(300)},
        {"MaxAgeAlone", "max-age=60", absl::Seconds(60)},
        {"MaxAgeFirst", "max-age=60, public", absl::Seconds(60)},
        {"NoSpaces", "public,max-age=60,must-revalidate", absl::Seconds(60)},
        {"MaxAgeZero", "max-age=0", absl::ZeroDuration()},
        {"NoCache", "no-cache", absl::ZeroDuration()},
        {"NoStore", "no-store", absl::ZeroDuration()},
        {"Private", "private", std::nullopt},
        {"Empty", "", std::nullopt},
        {"MaxAgeNotANumber", "max-age=abc", std::nullopt},
        {"MaxAgeNegative", "max-age=-5", std::nullopt},
        {"MaxAgeEmpty", "max-age=", std::nullopt},
        {"SharedMaxAgeIsNotMaxAge", "s-maxage=60", std::nullopt},
        // no-cache / no-store forbid reuse wherever they stand.
        {"NoCacheBeforeMaxAge", "no-cache, max-age=300", absl::ZeroDuration()},
        {"NoCacheAfterMaxAge", "max-age=300, no-cache", absl::ZeroDuration()},
        {"NoStoreAfterMaxAge", "public, max-age=300, no-store",
         absl::ZeroDuration()},
        // Directive names are case-insensitive (RFC 9111 5.2).
        {"UpperCaseMaxAge", "Max-Age=120", absl::Seconds(120)},
        {"UpperCaseNoStore", "max-age=120, NO-STORE", absl::ZeroDuration()},
    }),
    [](const ::testing::TestParamInfo<MaxAgeCase>& info) {
      return info.param.name;
    });

// An answer is taken only for the request it names.
TEST(JsonRpcSendAnswerIdTest, AnswerForAnotherRequestIsRefused) {
  const std::string result =
      R"({"jsonrpc":"2.0","result":{"envelope":{"sender":"urn:asap:agent:a"}},)";
  EXPECT_TRUE(ParseJsonRpcSendAnswer(result + R"("id":7})", 7).ok());
  for (const char* id : {"8", "\"7\"", "null"}) {
    EnvelopeOr answer =
        ParseJsonRpcSendAnswer(result + "\"id\":" + id + "}", 7);
    EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kInternal) << id;
    EXPECT_THAT(answer.status().message(), HasSubstr("another request")) << id;
  }
  EXPECT_EQ(ErrorCodeOf(ParseJsonRpcSendAnswer(
                            R"({"jsonrpc":"2.0","result":{"envelope":{}}})", 7)
                            .status()),
            ErrorCode::kInternal);
  // An error may not know the request's id: null is fine, another is not.
  const std::string error =
      R"({"jsonrpc":"2.0","error":{"code":-32603,"message":"x"},)";
  EXPECT_EQ(
      ErrorCodeOf(ParseJsonRpcSendAnswer(error + R"("id":null})", 7).status()),
      ErrorCode::kInternal);
  EXPECT_THAT(
      ParseJsonRpcSendAnswer(error + R"("id":null})", 7).status().message(),
      Not(HasSubstr("another request")));
  EXPECT_THAT(
      ParseJsonRpcSendAnswer(error + R"("id":8})", 7).status().message(),
      HasSubstr("another request"));
}

}  // namespace
}  // namespace asap::internal
