#include "server/http/json_rpc.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

constexpr char kEnvelope[] =
    R"({"asap_version":"0.1","sender":"urn:asap:agent:a",)"
    R"("recipient":"urn:asap:agent:b","payload_type":"task.request",)"
    R"("payload":{"x":1}})";

std::string Request(absl::string_view envelope, absl::string_view id = "1") {
  return absl::StrCat(R"({"jsonrpc":"2.0","method":"asap.send","params":)",
                      R"({"envelope":)", envelope, R"(},"id":)", id, "}");
}

JsonRpcBody Parse(absl::string_view body, ProtocolVersion version = {}) {
  absl::StatusOr<JsonRpcBody> parsed =
      ParseJsonRpcBody(body, JsonRpcBodyLimits{}, version);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *std::move(parsed) : JsonRpcBody{};
}

TEST(JsonRpcTest, WellFormedRequestYieldsTheEnvelopeAndId) {
  JsonRpcBody body = Parse(Request(kEnvelope, R"("req-1")"));
  ASSERT_FALSE(body.parse_error.has_value());
  ASSERT_EQ(body.items.size(), 1u);
  EXPECT_FALSE(body.is_batch);
  EXPECT_FALSE(body.items[0].error.has_value());
  EXPECT_EQ(body.items[0].id_json, R"("req-1")");
  EXPECT_EQ(body.items[0].envelope.sender(), "urn:asap:agent:a");
  EXPECT_EQ(body.items[0].envelope.payload().fields().at("x").number_value(),
            1);
}

TEST(JsonRpcTest, UnknownParamsMembersAreIgnored) {
  JsonRpcBody body = Parse(absl::StrCat(
      R"({"jsonrpc":"2.0","method":"asap.send","params":{"envelope":)",
      kEnvelope, R"(,"idempotency_key":"01H"},"id":7})"));
  ASSERT_EQ(body.items.size(), 1u);
  EXPECT_FALSE(body.items[0].error.has_value());
  EXPECT_EQ(body.items[0].id_json, "7");
}

TEST(JsonRpcTest, InvalidJsonAndInvalidUtf8AreParseErrors) {
  for (std::string bad : {std::string("{\"jsonrpc\":"), std::string("nope"),
                          std::string("{\"a\":\"\xff\xfe\"}")}) {
    JsonRpcBody body = Parse(bad);
    ASSERT_TRUE(body.parse_error.has_value()) << bad;
    EXPECT_EQ(body.parse_error->code, kJsonRpcParseError);
    EXPECT_THAT(body.parse_error->data_json, HasSubstr("Invalid JSON: "));
  }
}

TEST(JsonRpcTest, NonObjectBodyIsInvalidRequestWithReceivedType) {
  JsonRpcBody body = Parse(R"("hello")");
  ASSERT_EQ(body.items.size(), 1u);
  ASSERT_TRUE(body.items[0].error.has_value());
  EXPECT_EQ(body.items[0].error->code, kJsonRpcInvalidRequest);
  EXPECT_THAT(body.items[0].error->data_json,
              HasSubstr(R"("received_type":"str")"));
}

TEST(JsonRpcTest, ShapeErrorsAreInvalidRequestWithValidationErrors) {
  for (absl::string_view bad : {
           R"({"method":"asap.send","params":{},"id":1})",
           R"({"jsonrpc":"1.0","method":"asap.send","params":{},"id":1})",
           R"({"jsonrpc":"2.0","params":{},"id":1})",
           R"({"jsonrpc":"2.0","method":"asap.send","params":{},"id":1,"x":2})",
           R"({"jsonrpc":"2.0","method":"asap.send","params":{},"id":1.5})",
           R"({"jsonrpc":"2.0","method":"asap.send","params":{}})",
       }) {
    JsonRpcBody body = Parse(bad);
    ASSERT_EQ(body.items.size(), 1u) << bad;
    ASSERT_TRUE(body.items[0].error.has_value()) << bad;
    EXPECT_EQ(body.items[0].error->code, kJsonRpcInvalidRequest) << bad;
    EXPECT_THAT(body.items[0].error->data_json, HasSubstr("validation_errors"));
  }
}

TEST(JsonRpcTest, ParamsNotAnObjectIsInvalidParams) {
  JsonRpcBody body =
      Parse(R"({"jsonrpc":"2.0","method":"asap.send","params":[1],"id":1})");
  ASSERT_TRUE(body.items[0].error.has_value());
  EXPECT_EQ(body.items[0].error->code, kJsonRpcInvalidParams);
}

TEST(JsonRpcTest, OtherMethodIsMethodNotFound) {
  JsonRpcBody body =
      Parse(R"({"jsonrpc":"2.0","method":"asap.nope","params":{},"id":1})");
  ASSERT_TRUE(body.items[0].error.has_value());
  EXPECT_EQ(body.items[0].error->code, kJsonRpcMethodNotFound);
  EXPECT_EQ(body.items[0].error->data_json, R"({"method":"asap.nope"})");
}

TEST(JsonRpcTest, MissingOrInvalidEnvelopeIsInvalidParams) {
  for (std::string bad :
       {std::string(R"({"jsonrpc":"2.0","method":"asap.send","params":{},)"
                    R"("id":1})"),
        Request(R"({"sender":5})"), Request(R"("text")")}) {
    JsonRpcBody body = Parse(bad);
    ASSERT_TRUE(body.items[0].error.has_value()) << bad;
    EXPECT_EQ(body.items[0].error->code, kJsonRpcInvalidParams) << bad;
    EXPECT_THAT(body.items[0].error->data_json, HasSubstr("validation_errors"));
  }
}

TEST(JsonRpcTest, V2EnvelopeFieldsOnlyWithV2) {
  std::string v2_envelope =
      absl::StrCat(std::string(kEnvelope, sizeof(kEnvelope) - 2),
                   R"(,"requires_ack":false})");
  JsonRpcBody v1 = Parse(Request(v2_envelope));
  ASSERT_TRUE(v1.items[0].error.has_value());
  EXPECT_EQ(v1.items[0].error->code, kJsonRpcInvalidParams);

  JsonRpcBody v2 =
      Parse(Request(v2_envelope), NegotiateProtocolVersion("2.2, 2.1"));
  EXPECT_FALSE(v2.items[0].error.has_value());
}

TEST(JsonRpcTest, BatchArrays) {
  JsonRpcBody body = Parse(absl::StrCat("[", Request(kEnvelope, "1"), ",",
                                        R"({"jsonrpc":"2.0"})", "]"));
  EXPECT_TRUE(body.is_batch);
  ASSERT_EQ(body.items.size(), 2u);
  EXPECT_FALSE(body.items[0].error.has_value());
  EXPECT_TRUE(body.items[1].error.has_value());

  JsonRpcBody empty = Parse("[]");
  EXPECT_FALSE(empty.is_batch);
  ASSERT_EQ(empty.items.size(), 1u);
  EXPECT_EQ(empty.items[0].error->code, kJsonRpcInvalidRequest);

  std::string big = "[";
  for (int i = 0; i < 51; ++i) {
    absl::StrAppend(&big, i ? "," : "", Request(kEnvelope, "1"));
  }
  big += "]";
  JsonRpcBody too_big = Parse(big);
  EXPECT_FALSE(too_big.is_batch);
  EXPECT_EQ(too_big.items[0].error->code, kJsonRpcInvalidRequest);
}

TEST(JsonRpcTest, ValueAndDepthLimitsStopTheParse) {
  JsonRpcBodyLimits limits;
  limits.max_json_values = 1000;
  limits.max_depth = 10;
  std::string many = "[";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&many, i ? "," : "", "0");
  many += "]";
  absl::StatusOr<JsonRpcBody> body = ParseJsonRpcBody(many, limits, {});
  EXPECT_EQ(ErrorCodeOf(body.status()), ErrorCode::kResourceExhausted);

  // Far deeper than any stack would take recursively.
  std::string deep(200000, '[');
  body = ParseJsonRpcBody(deep, limits, {});
  EXPECT_EQ(ErrorCodeOf(body.status()), ErrorCode::kResourceExhausted);
}

TEST(JsonRpcTest, VersionNegotiation) {
  EXPECT_FALSE(NegotiateProtocolVersion(std::nullopt).is_v2());
  EXPECT_EQ(NegotiateProtocolVersion("2.2, 2.1").v2, "2.2");
  EXPECT_EQ(NegotiateProtocolVersion("3.0, 2.1").v2, "2.1");
  EXPECT_FALSE(NegotiateProtocolVersion("1.0").is_v2());
}

TEST(JsonRpcTest, DispatchErrorsMapAsTheReference) {
  v1::Envelope request;
  request.set_payload_type("task.request");
  ProtocolVersion v1;
  auto map = [&](ErrorCode code) {
    return MapDispatchError(AsapError(code, "detail"), request, v1, false);
  };
  EXPECT_EQ(map(ErrorCode::kMalformedEnvelope).error.code,
            kJsonRpcInvalidParams);
  DispatchErrorAnswer timestamp = map(ErrorCode::kInvalidTimestamp);
  EXPECT_EQ(timestamp.error.code, kJsonRpcInvalidParams);
  EXPECT_THAT(timestamp.error.data_json,
              HasSubstr(R"("code":"asap:protocol/invalid_timestamp")"));
  EXPECT_THAT(map(ErrorCode::kInvalidNonce).error.data_json,
              HasSubstr(R"("code":"asap:protocol/invalid_nonce")"));
  DispatchErrorAnswer no_handler = map(ErrorCode::kHandlerNotFound);
  EXPECT_EQ(no_handler.error.code, kJsonRpcMethodNotFound);
  EXPECT_THAT(no_handler.error.data_json,
              HasSubstr(R"("payload_type":"task.request")"));
  DispatchErrorAnswer failed = map(ErrorCode::kTaskNotFound);
  EXPECT_EQ(failed.error.code, kJsonRpcInternalError);
  EXPECT_EQ(failed.error.data_json, R"({"error":"Internal server error"})");
  EXPECT_EQ(map(ErrorCode::kResourceExhausted).http_status, 503);
  EXPECT_EQ(map(ErrorCode::kPayloadTooLarge).http_status, 413);

  DispatchErrorAnswer v2 =
      MapDispatchError(AsapError(ErrorCode::kTaskNotFound, "no such task"),
                       request, NegotiateProtocolVersion("2.2"), false);
  EXPECT_EQ(v2.error.code, -32010);
  EXPECT_THAT(v2.error.data_json, HasSubstr(R"("code":"asap:task/not_found")"));
}

TEST(JsonRpcTest, V2BandStaysInItsRange) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    int code = AsapJsonRpcCode(ErrorCodeName(static_cast<ErrorCode>(i)));
    EXPECT_LE(code, -32000);
    EXPECT_GE(code, -32059);
  }
}

TEST(JsonRpcTest, ResponsesHaveTheJsonRpcShape) {
  v1::Envelope envelope;
  envelope.set_id("e1");
  EXPECT_EQ(JsonRpcResultResponse(envelope, "\"r\"", {}),
            R"({"jsonrpc":"2.0","result":{"envelope":{"id":"e1"}},"id":"r"})");
  EXPECT_EQ(
      JsonRpcResultResponse(envelope, "1", NegotiateProtocolVersion("2.1")),
      R"({"jsonrpc":"2.0","result":{"envelope":{"id":"e1","requires_ack":false}},"id":1})");
  JsonRpcError error;
  error.code = -32601;
  error.message = "Method not found";
  error.data_json = R"({"method":"x"})";
  EXPECT_EQ(
      JsonRpcErrorResponse(error, "null"),
      R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found","data":{"method":"x"}},"id":null})");
}

}  // namespace
}  // namespace asap
