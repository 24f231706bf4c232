#include "asap/envelope_json.h"

#include <cmath>
#include <string>

#include "asap/errors.h"
#include "asap/json.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/testing/runfiles.h"

namespace asap {
namespace {

using google::protobuf::util::MessageDifferencer;

absl::StatusOr<v1::Envelope> FastParse(const std::string& json) {
  rapidjson::Document document;
  EXPECT_TRUE(ParseJsonDocument(json, &document)) << json;
  return EnvelopeFromJsonValue(document);
}

std::string FastPrint(const v1::Envelope& envelope) {
  std::string out;
  AppendEnvelopeJson(envelope, &out);
  return out;
}

// Both parsers accept `json` with equal envelopes, or both reject it.
void ExpectAgree(const std::string& json, bool valid) {
  google::protobuf::LogSilencer quiet;
  absl::StatusOr<v1::Envelope> reference = EnvelopeFromJson(json);
  absl::StatusOr<v1::Envelope> fast = FastParse(json);
  ASSERT_EQ(reference.ok(), valid) << json << " " << reference.status();
  ASSERT_EQ(fast.ok(), valid) << json << " " << fast.status();
  if (!valid) {
    EXPECT_EQ(ErrorCodeOf(fast.status()), ErrorCode::kMalformedEnvelope);
    return;
  }
  EXPECT_TRUE(MessageDifferencer::Equals(*reference, *fast))
      << json << "\nreference: " << reference->DebugString()
      << "\nfast: " << fast->DebugString();
}

// AppendEnvelopeJson prints what ToJson prints, and it reads back equal.
void ExpectPrintsLikeToJson(const v1::Envelope& envelope) {
  std::string printed = FastPrint(envelope);
  EXPECT_EQ(printed, ToJson(envelope));
  absl::StatusOr<v1::Envelope> reparsed = EnvelopeFromJson(printed);
  ASSERT_TRUE(reparsed.ok()) << printed << " " << reparsed.status();
  EXPECT_TRUE(MessageDifferencer::Equals(envelope, *reparsed)) << printed;
}

class TestdataTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TestdataTest, ParsesAndPrintsLikeProtobuf) {
  std::string json = testing::ReadRunfile("tests/testdata/" + GetParam());
  ExpectAgree(json, true);
  ExpectPrintsLikeToJson(*EnvelopeFromJson(json));
}

INSTANTIATE_TEST_SUITE_P(Envelopes, TestdataTest,
                         ::testing::Values("message_send.json",
                                           "mcp_tool_result.json",
                                           "task_request.json",
                                           "task_response.json",
                                           "task_update.json"));

std::string Nested(const std::string& open, const std::string& leaf,
                   const std::string& close, int levels) {
  std::string out;
  for (int i = 0; i < levels; ++i) out += open;
  out += leaf;
  for (int i = 0; i < levels; ++i) out += close;
  return out;
}

const char* const kValid[] = {
    R"({})",
    R"({"id":"a","asap_version":"1.0","timestamp":"t","sender":"s",)"
    R"("recipient":"r","payload_type":"p","correlation_id":"c",)"
    R"("trace_id":"x","payload":{"a":1},"extensions":{"n":"x"}})",
    R"({"asapVersion":"1","payloadType":"p","correlationId":"c",)"
    R"("traceId":"t"})",
    R"({"payload_type":"a","payloadType":"b"})",
    R"({"id":"a","id":"b"})",
    R"({"id":"x","id":null})",
    R"({"id":null,"payload":null,"extensions":null})",
    R"({"payload":{}})",
    R"({"payload":{},"extensions":{}})",
    R"({"payload":{"a":1},"payload":{"b":2}})",
    R"({"payload":{"a":1},"payload":{"a":2}})",
    R"({"payload":{"a":{"b":1}},"payload":{"a":{"c":2}}})",
    R"({"payload":{"a":{"b":{}}},"payload":{}})",
    R"({"payload":{"a":{"b":{}}},"payload":null})",
    R"({"payload":{"a":null,"b":[null,1,"x",true,false,{},[]],"c":1.5}})",
    R"({"payload":{"d":-0,"e":-0.0,"f":-0e0,"g":1e-320,"h":5e-324,)"
    R"("i":1.7976931348623157e308,"j":123456789012345678,)"
    R"("k":0.30000000000000004,"l":100,"m":1e15,"n":1e16,"o":1e21,)"
    R"("p":1e22,"q":-1e-5,"r":9007199254740993,"s":1e-400,)"
    R"("t":12345678901234567890123,"u":-9223372036854775808,)"
    R"("v":18446744073709551615,"w":2.2250738585072011e-308}})",
    // RapidJSON 1.1.0's full-precision conversion gets these wrong.
    R"({"payload":{"a":0e-320,"b":0.0e-300,"c":-0e-310,"d":0.000e-100,)"
    R"("e":0e-23,"f":17976931348623158e292,"g":-9223372036854775809,)"
    R"("h":0.1e-5,"i":1e-22,"j":123e-2,"k":3e-324,)"
    R"("l":2.4703282292062328e-324,"m":2.4703282292062327e-324,)"
    R"("n":-4.9406564584124654e-324,"o":2.2250738585072012e-308}})",
    R"({"payload":{"s":"<>&\u0001\u007f\u2028\u00e9\ud83d\ude00\"\\/\b\f\n\r\t"}})",
    R"({"id":"a\u0000b","payload":{"\u0000":"\u0000"}})",
    R"({"payload":{"":""}})",
    R"({"id":"\u00ad\u0600\u0603\u0604\u06dd\u070f\u17b4\u17b5\u17b6)"
    R"(\u200a\u200b\u200f\u2010\u2028\u202e\u202f\u2060\u2064\u2065)"
    R"(\u206a\u206f\u2070\ufeff\ufff8\ufff9\ufffb\ufffc\ud834\udd72)"
    R"(\ud834\udd73\ud834\udd7a\ud834\udd7b\udb40\udc00\udb40\udc01)"
    R"(\udb40\udc20\udb40\udc7f\udb40\udc80\u0080\u009f\u00a0"})",
    R"({"payload":{"list":[[[],[{}]],{"a":[1,2,3]}],"x":{"y":{"z":"deep"}}}})",
    " \n{ \"id\" : \"x\" }\t ",
};

TEST(EnvelopeJsonTest, AcceptsWhatProtobufAccepts) {
  for (const char* json : kValid) ExpectAgree(json, true);
}

TEST(EnvelopeJsonTest, PrintsLikeToJson) {
  for (const char* json : kValid) {
    absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJson(json);
    ASSERT_TRUE(envelope.ok()) << json;
    ExpectPrintsLikeToJson(*envelope);
  }
}

const char* const kInvalid[] = {
    R"({"PayloadType":"a"})",
    R"({"payload_Type":"a"})",
    R"({"foo":1})",
    R"({"foo":null})",
    R"({"id":1})",
    R"({"id":true})",
    R"({"id":{}})",
    R"({"id":[]})",
    R"({"id":["x"]})",
    R"({"payload":"x"})",
    R"({"payload":[]})",
    R"({"payload":1})",
    R"({"payload":true})",
    R"({"extensions":[{}]})",
    R"({"payload":{"a":1,"a":2}})",
    R"({"payload":{"a":{"b":1},"a":{"c":2}}})",
    R"({"payload":{"x":[{"a":1,"a":1}]}})",
    R"({"payload":{"a":1},"payload":{"b":1,"b":2}})",
    R"({"id":"\udc00"})",
    R"({"id":"x\udfffy"})",
    R"({"payload":{"\udc00":1}})",
    R"({"payload":{"a":["\udc00"]}})",
    R"({"\udc00":1})",
    R"({"id":"\udc00","id":"x"})",
    R"({"payload":{"a":1.8e308}})",
    R"({"payload":{"a":[-17976931348623159e292]}})",
};

TEST(EnvelopeJsonTest, RejectsWhatProtobufRejects) {
  for (const char* json : kInvalid) ExpectAgree(json, false);
}

TEST(EnvelopeJsonTest, ReadsNumbersAsRapidJsonClassifiesThem) {
  JsonNumber number = ReadJsonNumber("-0");
  EXPECT_EQ(number.kind, JsonNumber::Kind::kInt64);
  EXPECT_EQ(number.int64, 0);
  number = ReadJsonNumber("-9223372036854775808");
  EXPECT_EQ(number.kind, JsonNumber::Kind::kInt64);
  EXPECT_EQ(number.int64, INT64_MIN);
  number = ReadJsonNumber("18446744073709551615");
  EXPECT_EQ(number.kind, JsonNumber::Kind::kUint64);
  EXPECT_EQ(number.uint64, UINT64_MAX);
  number = ReadJsonNumber("18446744073709551616");
  EXPECT_EQ(number.kind, JsonNumber::Kind::kDouble);
  EXPECT_EQ(number.value, 18446744073709551616.0);
  number = ReadJsonNumber("-0.0");
  EXPECT_EQ(number.kind, JsonNumber::Kind::kDouble);
  EXPECT_TRUE(number.value == 0 && std::signbit(number.value));
  EXPECT_EQ(ReadJsonNumber("0e-320").value, 0);
  EXPECT_EQ(ReadJsonNumber("1e-400").value, 0);
  EXPECT_EQ(ReadJsonNumber("2.2250738585072011e-308").value,
            2.2250738585072009e-308);
  EXPECT_EQ(ReadJsonNumber("1.8e308").value, INFINITY);
  EXPECT_EQ(ReadJsonNumber("-1.8e308").value, -INFINITY);
}

TEST(EnvelopeJsonTest, RejectsRootsThatAreNotObjects) {
  rapidjson::Document document;
  ASSERT_TRUE(ParseJsonDocument(R"(["x"])", &document));
  absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJsonValue(document);
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(ErrorCodeOf(envelope.status()), ErrorCode::kMalformedEnvelope);
}

// protobuf's binary parser takes 100 nested messages: the payload Struct is
// one, each object level adds a map entry, a Value and a Struct, each list
// level a Value and a ListValue.
TEST(EnvelopeJsonTest, NestsAsDeepAsProtobuf) {
  for (int levels = 28; levels <= 36; ++levels) {
    for (const char* leaf : {"1", "{}", "[]"}) {
      ExpectAgree(
          R"({"payload":{"x":)" + Nested(R"({"a":)", leaf, "}", levels) + "}}",
          levels <= 32);
    }
    ExpectAgree(
        R"({"extensions":{"x":)" + Nested(R"({"a":)", "{}", "}", levels) + "}}",
        levels <= 32);
  }
  for (int levels = 44; levels <= 52; ++levels) {
    ExpectAgree(R"({"payload":{"x":)" + Nested("[", "1", "]", levels) + "}}",
                levels <= 48);
    ExpectAgree(R"({"payload":{"x":)" + Nested("[", "[]", "]", levels) + "}}",
                levels <= 48);
    ExpectAgree(R"({"payload":{"x":)" + Nested("[", "", "]", levels) + "}}",
                levels <= 49);
    ExpectAgree(R"({"payload":{"x":)" + Nested("[", "{}", "]", levels) + "}}",
                levels <= 48);
  }
}

TEST(EnvelopeJsonTest, PrintsProgrammaticEnvelopesLikeToJson) {
  google::protobuf::LogSilencer quiet;
  v1::Envelope envelope;
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["nan"].set_number_value(NAN);
  fields["inf"].set_number_value(INFINITY);
  fields["-inf"].set_number_value(-INFINITY);
  fields["unset"];
  auto* list = fields["list"].mutable_list_value();
  list->add_values();
  list->add_values()->set_number_value(0.1);
  list->add_values();
  fields["big"].set_number_value(1e300);
  fields["tiny"].set_number_value(-1e-300);
  fields["third"].set_number_value(1.0 / 3);
  envelope.mutable_extensions();
  envelope.set_sender("\x1f\x7f");
  EXPECT_EQ(FastPrint(envelope), ToJson(envelope));

  v1::Envelope invalid_utf8;
  invalid_utf8.set_id(
      "a\xff"
      "b\xc3");
  EXPECT_EQ(FastPrint(invalid_utf8), ToJson(invalid_utf8));

  v1::Envelope empty;
  EXPECT_EQ(FastPrint(empty), "{}");
}

TEST(EnvelopeJsonTest, RoundTripsNumbers) {
  const double kNumbers[] = {
      0,        -0.0,      1,       -1,
      0.5,      1e15 - 1,  1e15,    -1e15,
      1e15 + 1, 9.007e15,  1e300,   5e-324,
      0.1,      1.0 / 3,   -2.5e-8, 123456789.125,
      4e16,     -7.25e100, 2e-310,  1.7976931348623157e308};
  for (double number : kNumbers) {
    v1::Envelope envelope;
    (*envelope.mutable_payload()->mutable_fields())["n"].set_number_value(
        number);
    ExpectPrintsLikeToJson(envelope);
    absl::StatusOr<v1::Envelope> fast = FastParse(FastPrint(envelope));
    ASSERT_TRUE(fast.ok());
    EXPECT_TRUE(MessageDifferencer::Equals(envelope, *fast)) << number;
  }
}

}  // namespace
}  // namespace asap
