#include "asap/envelope.h"

#include <string>

#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using google::protobuf::Struct;

const absl::Time kNow = absl::FromUnixSeconds(1705314600);

// A valid task.request at kNow; each test breaks one thing.
v1::Envelope ValidRequest() {
  v1::Envelope envelope;
  envelope.set_id("01HQ3KZ5V6X8N2M4P7R9T1W3Y5");
  envelope.set_asap_version("0.1");
  envelope.set_timestamp(FormatTimestamp(kNow));
  envelope.set_sender("urn:asap:agent:coordinator");
  envelope.set_recipient("urn:asap:agent:research-v1");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("conv_123");
  fields["skill_id"].set_string_value("research");
  fields["input"].mutable_struct_value();
  return envelope;
}

v1::Envelope ValidResponse() {
  v1::Envelope envelope = ValidRequest();
  envelope.set_payload_type("task.response");
  envelope.set_correlation_id("01HQ3KZ5V6X8N2M4P7R9T1W3Y4");
  Struct* payload = envelope.mutable_payload();
  payload->clear_fields();
  (*payload->mutable_fields())["task_id"].set_string_value("t1");
  (*payload->mutable_fields())["status"].set_string_value("completed");
  return envelope;
}

std::optional<ErrorCode> CodeOf(const v1::Envelope& envelope,
                                const ValidationOptions& options = {}) {
  return ErrorCodeOf(ValidateEnvelope(envelope, kNow, options));
}

TEST(ValidateEnvelopeTest, AcceptsAValidRequest) {
  EXPECT_TRUE(ValidateEnvelope(ValidRequest(), kNow).ok());
}

TEST(ValidateEnvelopeTest, RequiresAsapVersion) {
  v1::Envelope e = ValidRequest();
  e.clear_asap_version();
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(ValidateEnvelopeTest, RequiresSender) {
  v1::Envelope e = ValidRequest();
  e.clear_sender();
  absl::Status status = ValidateEnvelope(e, kNow);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(status.message().find("sender"), absl::string_view::npos);
}

TEST(ValidateEnvelopeTest, RejectsSenderThatIsNotAnAgentUrn) {
  v1::Envelope e = ValidRequest();
  e.set_sender("agent:coordinator");
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(ValidateEnvelopeTest, RejectsRecipientThatIsNotAnAgentUrn) {
  v1::Envelope e = ValidRequest();
  e.set_recipient("urn:asap:agent:Research");
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(ValidateEnvelopeTest, UrnOf256CharactersPassesAnd257Fails) {
  std::string prefix = "urn:asap:agent:";
  v1::Envelope e = ValidRequest();
  e.set_sender(prefix + std::string(256 - prefix.size(), 'a'));
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());
  e.set_sender(prefix + std::string(257 - prefix.size(), 'a'));
  absl::Status status = ValidateEnvelope(e, kNow);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(status.message().find("256"), absl::string_view::npos);
}

TEST(ValidateEnvelopeTest, RequiresPayloadType) {
  v1::Envelope e = ValidRequest();
  e.clear_payload_type();
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(ValidateEnvelopeTest, RequiresPayload) {
  v1::Envelope e = ValidRequest();
  e.clear_payload();
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(ValidateEnvelopeTest, RequiresTimestamp) {
  v1::Envelope e = ValidRequest();
  e.clear_timestamp();
  EXPECT_EQ(CodeOf(e), ErrorCode::kInvalidTimestamp);
}

TEST(ValidateEnvelopeTest, RejectsUnparseableTimestamp) {
  v1::Envelope e = ValidRequest();
  e.set_timestamp("15/01/2024 10:30");
  EXPECT_EQ(CodeOf(e), ErrorCode::kInvalidTimestamp);
}

TEST(ValidateEnvelopeTest, AcceptsTimestampExactly300SecondsOld) {
  v1::Envelope e = ValidRequest();
  e.set_timestamp(FormatTimestamp(kNow - absl::Seconds(300)));
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());
}

TEST(ValidateEnvelopeTest, RejectsTimestampOlderThan300Seconds) {
  v1::Envelope e = ValidRequest();
  e.set_timestamp(FormatTimestamp(kNow - absl::Seconds(301)));
  EXPECT_EQ(CodeOf(e), ErrorCode::kInvalidTimestamp);
}

TEST(ValidateEnvelopeTest, AcceptsTimestamp30SecondsAhead) {
  v1::Envelope e = ValidRequest();
  e.set_timestamp(FormatTimestamp(kNow + absl::Seconds(30)));
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());
}

TEST(ValidateEnvelopeTest, RejectsTimestampMoreThan30SecondsAhead) {
  v1::Envelope e = ValidRequest();
  e.set_timestamp(FormatTimestamp(kNow + absl::Seconds(31)));
  EXPECT_EQ(CodeOf(e), ErrorCode::kInvalidTimestamp);
}

TEST(ValidateEnvelopeTest, WindowCheckCanBeTurnedOff) {
  v1::Envelope e = ValidRequest();
  e.set_timestamp("2001-01-01T00:00:00Z");
  ValidationOptions options;
  options.check_timestamp_window = false;
  EXPECT_TRUE(ValidateEnvelope(e, kNow, options).ok());
}

TEST(ValidateEnvelopeTest, AcceptsResponseWithCorrelationId) {
  EXPECT_TRUE(ValidateEnvelope(ValidResponse(), kNow).ok());
}

TEST(ValidateEnvelopeTest, RequiresCorrelationIdOnEveryResponseType) {
  for (const char* type : {"task.response", "TaskResponse"}) {
    v1::Envelope e = ValidResponse();
    e.set_payload_type(type);
    e.clear_correlation_id();
    EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope) << type;
  }
  for (const char* type : {"mcp.tool_result", "McpToolResult",
                           "mcp.resource_data", "McpResourceData"}) {
    EXPECT_TRUE(IsResponsePayloadType(type)) << type;
  }
  EXPECT_FALSE(IsResponsePayloadType("task.request"));
}

TEST(ValidateEnvelopeTest, AcceptsStringNonce) {
  v1::Envelope e = ValidRequest();
  (*e.mutable_extensions()->mutable_fields())["nonce"].set_string_value("n1");
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());
}

TEST(ValidateEnvelopeTest, RejectsNonStringOrEmptyNonce) {
  v1::Envelope e = ValidRequest();
  (*e.mutable_extensions()->mutable_fields())["nonce"].set_number_value(7);
  EXPECT_EQ(CodeOf(e), ErrorCode::kInvalidNonce);
  (*e.mutable_extensions()->mutable_fields())["nonce"].set_string_value("");
  EXPECT_EQ(CodeOf(e), ErrorCode::kInvalidNonce);
}

TEST(ValidateEnvelopeTest, KnowsBothSpellingsOfThe12PayloadTypes) {
  for (const char* type :
       {"task.request",    "task.response",      "task.update",
        "task.cancel",     "message.send",       "state.query",
        "state.restore",   "artifact.notify",    "mcp.tool_call",
        "mcp.tool_result", "mcp.resource_fetch", "mcp.resource_data",
        "TaskRequest",     "TaskResponse",       "TaskUpdate",
        "TaskCancel",      "MessageSend",        "StateQuery",
        "StateRestore",    "ArtifactNotify",     "McpToolCall",
        "McpToolResult",   "McpResourceFetch",   "McpResourceData"}) {
    EXPECT_TRUE(IsKnownPayloadType(type)) << type;
  }
  EXPECT_FALSE(IsKnownPayloadType("task.unknown"));
}

TEST(PayloadSchemaTest, RejectsMissingRequiredField) {
  v1::Envelope e = ValidRequest();
  e.mutable_payload()->mutable_fields()->erase("skill_id");
  absl::Status status = ValidateEnvelope(e, kNow);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(status.message().find("skill_id"), absl::string_view::npos);
}

TEST(PayloadSchemaTest, RejectsWrongJsonType) {
  v1::Envelope e = ValidRequest();
  (*e.mutable_payload()->mutable_fields())["input"].set_string_value("x");
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(PayloadSchemaTest, RejectsUnknownPayloadField) {
  v1::Envelope e = ValidRequest();
  (*e.mutable_payload()->mutable_fields())["surprise"].set_bool_value(true);
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);
}

TEST(PayloadSchemaTest, AcceptsNullForOptionalField) {
  v1::Envelope e = ValidRequest();
  (*e.mutable_payload()->mutable_fields())["parent_task_id"].set_null_value(
      google::protobuf::NULL_VALUE);
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());
}

TEST(PayloadSchemaTest, RejectsUnknownTaskStatus) {
  v1::Envelope e = ValidResponse();
  (*e.mutable_payload()->mutable_fields())["status"].set_string_value("done");
  absl::Status status = ValidateEnvelope(e, kNow);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(status.message().find("input_required"), absl::string_view::npos);
}

TEST(PayloadSchemaTest, McpToolResultNeedsExactlyOneOfResultAndError) {
  v1::Envelope e = ValidResponse();
  e.set_payload_type("mcp.tool_result");
  auto& fields = *e.mutable_payload()->mutable_fields();
  fields.clear();
  fields["request_id"].set_string_value("r1");
  fields["success"].set_bool_value(true);
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);  // neither
  fields["result"].mutable_struct_value();
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());  // result only
  fields["error"].set_string_value("boom");
  EXPECT_EQ(CodeOf(e), ErrorCode::kMalformedEnvelope);  // both
}

TEST(PayloadSchemaTest, UnknownPayloadTypesAreLeftToTheirHandler) {
  v1::Envelope e = ValidRequest();
  e.set_payload_type("custom.thing");
  (*e.mutable_payload()->mutable_fields())["anything"].set_bool_value(true);
  EXPECT_TRUE(ValidateEnvelope(e, kNow).ok());
}

TEST(PayloadSchemaTest, SchemaCheckCanBeTurnedOff) {
  v1::Envelope e = ValidRequest();
  e.mutable_payload()->clear_fields();
  ValidationOptions options;
  options.check_payload_schema = false;
  EXPECT_TRUE(ValidateEnvelope(e, kNow, options).ok());
}

TEST(FillEnvelopeDefaultsTest, FillsIdTimestampAndVersion) {
  v1::Envelope e;
  FillEnvelopeDefaults(&e, kNow);
  EXPECT_TRUE(IsUlid(e.id()));
  EXPECT_EQ(e.timestamp(), FormatTimestamp(kNow));
  EXPECT_EQ(e.asap_version(), kAsapVersion);
}

TEST(FillEnvelopeDefaultsTest, KeepsValuesThatAreSet) {
  v1::Envelope e = ValidRequest();
  FillEnvelopeDefaults(&e, kNow + absl::Hours(1));
  EXPECT_EQ(e.id(), "01HQ3KZ5V6X8N2M4P7R9T1W3Y5");
  EXPECT_EQ(e.timestamp(), FormatTimestamp(kNow));
}

TEST(CompleteResponseTest, CorrelatesAndAddresses) {
  v1::Envelope request = ValidRequest();
  request.set_trace_id("trace-1");
  v1::Envelope response;
  CompleteResponse(request, "urn:asap:agent:research-v1", kNow, &response);
  EXPECT_EQ(response.correlation_id(), request.id());
  EXPECT_EQ(response.recipient(), request.sender());
  EXPECT_EQ(response.sender(), "urn:asap:agent:research-v1");
  EXPECT_EQ(response.trace_id(), "trace-1");
  EXPECT_TRUE(IsUlid(response.id()));
}

}  // namespace
}  // namespace asap
