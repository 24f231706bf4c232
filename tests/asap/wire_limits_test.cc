#include "asap/wire_limits.h"

#include <string>

#include "asap/errors.h"
#include "asap/v1/service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

v1::Envelope Sample() {
  v1::Envelope envelope;
  envelope.set_id("id");
  envelope.set_sender("urn:asap:agent:a");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["a"].set_number_value(1);                                       // 1
  auto* list = fields["b"].mutable_list_value();                         // 2
  for (int i = 0; i < 3; ++i) list->add_values()->set_bool_value(true);  // 5
  (*fields["c"].mutable_struct_value()->mutable_fields())["d"].set_string_value(
      "x");  // 7
  (*envelope.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
      "n");  // 8
  return envelope;
}

TEST(WireLimitsTest, CountsEveryJsonValueInPayloadAndExtensions) {
  absl::StatusOr<WireCounts> counts =
      ScanEnvelopeBytes(Sample().SerializeAsString(), EnvelopeLimits{});
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->envelopes, 1);
  EXPECT_EQ(counts->total_json_values, 8);
  EXPECT_EQ(counts->max_json_values, 8);
}

TEST(WireLimitsTest, TooManyValuesIsResourceExhausted) {
  EnvelopeLimits limits;
  limits.max_json_values = 7;
  absl::StatusOr<WireCounts> counts =
      ScanEnvelopeBytes(Sample().SerializeAsString(), limits);
  EXPECT_EQ(ErrorCodeOf(counts.status()), ErrorCode::kResourceExhausted);
  EXPECT_THAT(counts.status().message(), HasSubstr("max_json_values"));
}

TEST(WireLimitsTest, DepthIsBounded) {
  v1::Envelope envelope;
  google::protobuf::Struct* level = envelope.mutable_payload();
  for (int i = 0; i < 5; ++i) {
    level = (*level->mutable_fields())["n"].mutable_struct_value();
  }
  EnvelopeLimits limits;
  limits.max_depth = 5;
  EXPECT_TRUE(ScanEnvelopeBytes(envelope.SerializeAsString(), limits).ok());
  limits.max_depth = 4;
  absl::StatusOr<WireCounts> counts =
      ScanEnvelopeBytes(envelope.SerializeAsString(), limits);
  EXPECT_EQ(ErrorCodeOf(counts.status()), ErrorCode::kResourceExhausted);
  EXPECT_THAT(counts.status().message(), HasSubstr("max_depth"));
}

TEST(WireLimitsTest, GarbageAndTruncationAreMalformed) {
  std::string bytes = Sample().SerializeAsString();
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    absl::StatusOr<WireCounts> counts =
        ScanEnvelopeBytes(bytes.substr(0, cut), EnvelopeLimits{});
    v1::Envelope parsed;
    // Whatever protobuf accepts, the scanner accepts, and the reverse.
    EXPECT_EQ(counts.ok(), parsed.ParseFromString(bytes.substr(0, cut))) << cut;
    if (!counts.ok()) {
      EXPECT_EQ(ErrorCodeOf(counts.status()), ErrorCode::kMalformedEnvelope);
    }
  }
  EXPECT_FALSE(ScanEnvelopeBytes("\xff\xff\xff\xff", EnvelopeLimits{}).ok());
  EXPECT_FALSE(
      ScanEnvelopeBytes(std::string("\0", 1) + bytes, EnvelopeLimits{}).ok());
  EXPECT_TRUE(ScanEnvelopeBytes("", EnvelopeLimits{}).ok());
}

TEST(WireLimitsTest, BatchFrameCountsEnvelopesAndBoundsThem) {
  v1::BatchFrame frame;
  for (int i = 0; i < 3; ++i) *frame.add_envelopes() = Sample();
  absl::StatusOr<WireCounts> counts =
      ScanBatchFrameBytes(frame.SerializeAsString(), 3, EnvelopeLimits{});
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->envelopes, 3);
  EXPECT_EQ(counts->total_json_values, 24);
  EXPECT_EQ(counts->max_json_values, 8);
  counts = ScanBatchFrameBytes(frame.SerializeAsString(), 2, EnvelopeLimits{});
  EXPECT_EQ(ErrorCodeOf(counts.status()), ErrorCode::kResourceExhausted);
  EXPECT_THAT(counts.status().message(), HasSubstr("max_envelopes_per_frame"));
}

TEST(WireLimitsTest, EstimateGrowsWithValues) {
  WireCounts few{1, 10, 10};
  WireCounts many{1, 100000, 100000};
  EXPECT_LT(EstimateParsedBytes(1000, few), EstimateParsedBytes(1000, many));
  EXPECT_GE(EstimateParsedBytes(1000, many), 100000u * 64);
}

}  // namespace
}  // namespace asap
