#include "asap/json.h"

#include <string>

#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/manifest.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"

namespace asap {
namespace {

using google::protobuf::Struct;
using google::protobuf::util::MessageDifferencer;

// JSON text -> generic JSON object, so two texts compare as JSON values.
Struct AsJsonObject(const std::string& json) {
  Struct object;
  EXPECT_TRUE(FromJson(json, &object, ErrorCode::kInternal).ok()) << json;
  return object;
}

class EnvelopeRoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EnvelopeRoundTripTest, ParsesAndPrintsBackEqual) {
  std::string original = testing::ReadRunfile("tests/testdata/" + GetParam());
  absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJson(original);
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  std::string printed = ToJson(*envelope);
  EXPECT_TRUE(
      MessageDifferencer::Equals(AsJsonObject(original), AsJsonObject(printed)))
      << "original: " << original << "\nprinted: " << printed;
}

TEST_P(EnvelopeRoundTripTest, IsValidAsap) {
  absl::StatusOr<v1::Envelope> envelope =
      EnvelopeFromJson(testing::ReadRunfile("tests/testdata/" + GetParam()));
  ASSERT_TRUE(envelope.ok());
  ValidationOptions options;
  options.check_timestamp_window = false;  // fixed dates in the files
  EXPECT_TRUE(ValidateEnvelope(*envelope, absl::Now(), options).ok());
}

INSTANTIATE_TEST_SUITE_P(Testdata, EnvelopeRoundTripTest,
                         ::testing::Values("task_request.json",
                                           "task_response.json",
                                           "task_update.json",
                                           "mcp_tool_result.json",
                                           "message_send.json"));

TEST(ManifestJsonTest, ParsesAndPrintsBackEqual) {
  std::string original = testing::ReadRunfile("tests/testdata/manifest.json");
  absl::StatusOr<v1::Manifest> manifest = ManifestFromJson(original);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_TRUE(ValidateManifest(*manifest).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(AsJsonObject(original),
                                         AsJsonObject(ToJson(*manifest))));
}

TEST(EnvelopeJsonTest, NullOptionalFieldsParseAsAbsent) {
  absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJson(
      R"({"asap_version":"0.1","sender":"urn:asap:agent:a",)"
      R"("recipient":"urn:asap:agent:b","payload_type":"x","payload":{},)"
      R"("id":null,"timestamp":null,"correlation_id":null,)"
      R"("trace_id":null,"extensions":null})");
  ASSERT_TRUE(envelope.ok()) << envelope.status();
  EXPECT_TRUE(envelope->id().empty());
  EXPECT_FALSE(envelope->has_extensions());
}

TEST(EnvelopeJsonTest, RejectsUnknownField) {
  absl::StatusOr<v1::Envelope> envelope =
      EnvelopeFromJson(R"({"asap_version":"0.1","surprise":1})");
  ASSERT_FALSE(envelope.ok());
  EXPECT_EQ(ErrorCodeOf(envelope.status()), ErrorCode::kMalformedEnvelope);
  EXPECT_THAT(std::string(envelope.status().message()),
              ::testing::HasSubstr("surprise"));
}

TEST(EnvelopeJsonTest, RejectsTextThatIsNotJson) {
  absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJson("{not json");
  EXPECT_EQ(ErrorCodeOf(envelope.status()), ErrorCode::kMalformedEnvelope);
}

TEST(EnvelopeJsonTest, RejectsPayloadThatIsNotAnObject) {
  absl::StatusOr<v1::Envelope> envelope =
      EnvelopeFromJson(R"({"payload":[1,2]})");
  EXPECT_EQ(ErrorCodeOf(envelope.status()), ErrorCode::kMalformedEnvelope);
}

TEST(EnvelopeJsonTest, PrintsOriginalFieldNames) {
  v1::Envelope envelope;
  envelope.set_payload_type("task.request");
  envelope.set_correlation_id("c");
  std::string json = ToJson(envelope);
  EXPECT_THAT(json, ::testing::HasSubstr("\"payload_type\""));
  EXPECT_THAT(json, ::testing::HasSubstr("\"correlation_id\""));
}

TEST(ManifestJsonTest, MalformedManifestHasItsOwnCode) {
  absl::StatusOr<v1::Manifest> manifest = ManifestFromJson(R"({"id": 5})");
  EXPECT_EQ(ErrorCodeOf(manifest.status()), ErrorCode::kMalformedManifest);
}

}  // namespace
}  // namespace asap
