// The client's body codec on its own: which encoding a request gets, and how
// answers are decoded.
#include "client/internal/body_codec.h"

#include <string>

#include "asap/compression/codec.h"
#include "asap/errors.h"
#include "gtest/gtest.h"

namespace asap::internal {
namespace {

constexpr size_t kLarge = 4096;

v1::Envelope EnvelopeWithText(const std::string& text) {
  v1::Envelope envelope;
  envelope.set_sender("urn:asap:agent:tester");
  envelope.set_payload_type("task.request");
  (*envelope.mutable_payload()->mutable_fields())["input"].set_string_value(
      text);
  return envelope;
}

// Text that compresses well.
std::string Repetitive(size_t bytes) {
  std::string text;
  while (text.size() < bytes) text += "agent task manifest envelope ";
  text.resize(bytes);
  return text;
}

TEST(ChooseRequestEncodingTest, NothingAdvertisedMeansIdentity) {
  EXPECT_EQ(ChooseRequestEncoding(kLarge, CompressionOptions(), ""),
            "identity");
}

TEST(ChooseRequestEncodingTest, ConfiguredAlgorithmWhenAdvertised) {
  CompressionOptions gzip;
  gzip.algorithm = Compression::kGzip;
  EXPECT_EQ(ChooseRequestEncoding(kLarge, gzip, "br, gzip"), "gzip");
  EXPECT_EQ(ChooseRequestEncoding(kLarge, CompressionOptions(), "br, gzip"),
            "br");
  EXPECT_EQ(ChooseRequestEncoding(kLarge, CompressionOptions(), " BR ;q=1"),
            "br");
}

TEST(ChooseRequestEncodingTest, AnotherAdvertisedEncodingWhenNotConfigured) {
  EXPECT_EQ(ChooseRequestEncoding(kLarge, CompressionOptions(), "gzip"),
            "gzip");
  EXPECT_EQ(ChooseRequestEncoding(kLarge, CompressionOptions(), "br;q=0, gzip"),
            "gzip");
}

TEST(ChooseRequestEncodingTest, UnknownEncodingsMeanIdentity) {
  EXPECT_EQ(
      ChooseRequestEncoding(kLarge, CompressionOptions(), "zstd, identity"),
      "identity");
}

TEST(ChooseRequestEncodingTest, SmallBodiesAndNoneMeanIdentity) {
  CompressionOptions options;
  EXPECT_EQ(
      ChooseRequestEncoding(options.threshold_bytes - 1, options, "br, gzip"),
      "identity");
  EXPECT_EQ(ChooseRequestEncoding(options.threshold_bytes, options, "br, gzip"),
            "br");
  options.algorithm = Compression::kNone;
  EXPECT_EQ(ChooseRequestEncoding(kLarge, options, "br, gzip"), "identity");
}

TEST(EncodeRequestBodyTest, CompressesWithTheChosenEncoding) {
  v1::Envelope envelope = EnvelopeWithText(Repetitive(kLarge));
  CompressionOptions options;
  options.accept_encoding = {Compression::kGzip};
  absl::StatusOr<std::optional<v1::CompressedEnvelope>> request =
      EncodeRequestBody(envelope, options, "gzip");
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_TRUE(request->has_value());
  const v1::CompressedEnvelope& compressed = **request;
  EXPECT_EQ(compressed.encoding(), "gzip");
  EXPECT_EQ(compressed.accept_encoding(), "gzip");
  EXPECT_LT(compressed.body().size(), envelope.ByteSizeLong());
  absl::StatusOr<std::string> bytes =
      (*FindCodec("gzip"))->Decompress(compressed.body(), 1 << 20);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, envelope.SerializeAsString());
}

TEST(EncodeRequestBodyTest, LevelOfTheConfiguredAlgorithmIsNotUsedForAnother) {
  // Brotli quality 11 is no gzip level: the fallback runs at gzip's default.
  CompressionOptions options;
  options.level = 11;
  absl::StatusOr<std::optional<v1::CompressedEnvelope>> request =
      EncodeRequestBody(EnvelopeWithText(Repetitive(kLarge)), options, "gzip");
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_TRUE(request->has_value());
  EXPECT_EQ((*request)->encoding(), "gzip");
}

TEST(EncodeRequestBodyTest, PlainWhenNothingIsAdvertised) {
  absl::StatusOr<std::optional<v1::CompressedEnvelope>> request =
      EncodeRequestBody(EnvelopeWithText(Repetitive(kLarge)),
                        CompressionOptions(), "");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_FALSE(request->has_value());
}

TEST(EncodeRequestBodyTest, PlainWhenCompressionDoesNotShrinkTheBody) {
  // A few bytes: any brotli stream of them is longer than they are.
  CompressionOptions options;
  options.threshold_bytes = 0;
  v1::Envelope tiny;
  tiny.set_sender("x");
  absl::StatusOr<std::optional<v1::CompressedEnvelope>> request =
      EncodeRequestBody(tiny, options, "br");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_FALSE(request->has_value());
}

TEST(DecodeResponseBodyTest, DecodesEachEncoding) {
  v1::Envelope envelope = EnvelopeWithText(Repetitive(kLarge));
  for (const char* encoding : {"br", "gzip"}) {
    v1::CompressedEnvelope answer;
    answer.set_encoding(encoding);
    answer.set_body(
        *(*FindCodec(encoding))->Compress(envelope.SerializeAsString()));
    absl::StatusOr<v1::Envelope> decoded = DecodeResponseBody(answer, 1 << 20);
    ASSERT_TRUE(decoded.ok()) << encoding << ": " << decoded.status();
    EXPECT_EQ(decoded->SerializeAsString(), envelope.SerializeAsString());
  }
  v1::CompressedEnvelope identity;
  identity.set_encoding("identity");
  identity.set_body(envelope.SerializeAsString());
  absl::StatusOr<v1::Envelope> decoded = DecodeResponseBody(identity, 1 << 20);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->payload_type(), "task.request");
}

TEST(DecodeResponseBodyTest, ErrorsCarryTheirAsapCodes) {
  v1::CompressedEnvelope answer;
  answer.set_encoding("zstd");
  answer.set_body("x");
  EXPECT_EQ(ErrorCodeOf(DecodeResponseBody(answer, 1 << 20).status()),
            ErrorCode::kUnsupportedEncoding);
  answer.set_encoding("gzip");
  answer.set_body("not gzip at all");
  EXPECT_EQ(ErrorCodeOf(DecodeResponseBody(answer, 1 << 20).status()),
            ErrorCode::kCorruptBody);
  answer.set_body(*(*FindCodec("gzip"))->Compress(std::string(4096, 'a')));
  EXPECT_EQ(ErrorCodeOf(DecodeResponseBody(answer, 1024).status()),
            ErrorCode::kPayloadTooLarge);
  answer.set_encoding("identity");
  answer.set_body("\xff\xff\xff not an envelope");
  EXPECT_EQ(ErrorCodeOf(DecodeResponseBody(answer, 1 << 20).status()),
            ErrorCode::kMalformedEnvelope);
}

}  // namespace
}  // namespace asap::internal
