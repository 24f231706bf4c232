#include "client/internal/body_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"

namespace asap::internal {
namespace {

// Whether the accept list names `encoding` as acceptable. Each entry is run
// through NegotiateEncoding, the one parser of accept lists (case, spaces,
// "q=0").
bool Advertises(absl::string_view advertised, absl::string_view encoding) {
  for (absl::string_view entry : absl::StrSplit(advertised, ',')) {
    if (NegotiateEncoding(entry) == encoding) return true;
  }
  return false;
}

// `serialized` compressed in `encoding` (chosen by ChooseRequestEncoding), or
// nullopt when compressing does not make it smaller.
absl::StatusOr<std::optional<std::string>> CompressBytes(
    const std::string& serialized, const std::string& encoding, int level) {
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
  if (!codec.ok()) return codec.status();
  absl::StatusOr<std::string> body = (*codec)->Compress(serialized, level);
  if (!body.ok()) return body.status();
  if (body->size() >= serialized.size()) return std::nullopt;
  return std::optional<std::string>(*std::move(body));
}

// The bytes of a body in `encoding`, at most `max_bytes` of them.
absl::StatusOr<std::string> DecodeBytes(const std::string& encoding,
                                        std::string body, size_t max_bytes) {
  if (!encoding.empty() && encoding != kIdentityEncoding) {
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
    if (!codec.ok()) return codec.status();
    return (*codec)->Decompress(body, max_bytes);
  }
  if (body.size() > max_bytes) {
    return AsapError(ErrorCode::kPayloadTooLarge,
                     absl::StrCat("response body of ", body.size(),
                                  " bytes exceeds the limit of ", max_bytes));
  }
  return body;
}

}  // namespace

std::optional<std::string> AdvertisedEncodings(
    const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto [begin, end] = metadata.equal_range(kAcceptEncodingMetadataKey);
  if (begin == end) return std::nullopt;
  std::string encodings;
  for (auto it = begin; it != end; ++it) {
    if (!encodings.empty()) encodings += ", ";
    encodings.append(it->second.data(), it->second.size());
  }
  return encodings;
}

std::string ChooseRequestEncoding(size_t size,
                                  const CompressionOptions& options,
                                  absl::string_view advertised) {
  if (options.algorithm == Compression::kNone ||
      size < options.threshold_bytes) {
    return std::string(kIdentityEncoding);
  }
  const absl::string_view configured = CompressionName(options.algorithm);
  if (Advertises(advertised, configured)) return std::string(configured);
  return NegotiateEncoding(advertised);
}

absl::StatusOr<std::optional<v1::CompressedEnvelope>> EncodeRequestBody(
    const v1::Envelope& envelope, const CompressionOptions& options,
    absl::string_view advertised) {
  std::string encoding =
      ChooseRequestEncoding(envelope.ByteSizeLong(), options, advertised);
  if (encoding == kIdentityEncoding) return std::nullopt;
  // The level is on the configured algorithm's scale; another algorithm
  // (the only one the target takes) runs at its default.
  int level =
      encoding == CompressionName(options.algorithm) ? options.level : -1;
  absl::StatusOr<std::optional<std::string>> body =
      CompressBytes(envelope.SerializeAsString(), encoding, level);
  if (!body.ok()) return body.status();
  if (!body->has_value()) return std::nullopt;  // incompressible: send as is
  v1::CompressedEnvelope request;
  request.set_encoding(std::move(encoding));
  request.set_accept_encoding(AcceptEncodingList(options.accept_encoding));
  request.set_body(**std::move(body));
  return request;
}

absl::StatusOr<v1::Envelope> DecodeResponseBody(
    const v1::CompressedEnvelope& answer, size_t max_bytes) {
  absl::StatusOr<std::string> bytes =
      DecodeBytes(answer.encoding(), answer.body(), max_bytes);
  if (!bytes.ok()) return bytes.status();
  v1::Envelope response;
  if (!response.ParseFromString(*bytes)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "the response body is not an Envelope");
  }
  return response;
}

void CompressFrame(const CompressionOptions& options,
                   absl::string_view advertised, v1::BatchFrame* frame) {
  std::string encoding =
      ChooseRequestEncoding(frame->ByteSizeLong(), options, advertised);
  if (encoding == kIdentityEncoding) return;
  absl::StatusOr<std::optional<std::string>> body = CompressBytes(
      frame->SerializeAsString(), encoding, kStreamCompressionLevel);
  if (!body.ok() || !body->has_value()) return;
  frame->Clear();
  frame->set_encoding(std::move(encoding));
  frame->set_body(**std::move(body));
}

absl::Status DecodeResultFrame(size_t max_bytes, v1::BatchResultFrame* frame) {
  if (frame->encoding().empty() && frame->body().empty()) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> bytes = DecodeBytes(
      frame->encoding(), std::move(*frame->mutable_body()), max_bytes);
  if (!bytes.ok()) return bytes.status();
  frame->Clear();
  if (!frame->ParseFromString(*bytes)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "a batch result frame's body is not a BatchResultFrame");
  }
  return absl::OkStatus();
}

}  // namespace asap::internal
