#include "server/compressed_send.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"

namespace asap {
namespace {

absl::StatusOr<std::string> Decode(const v1::CompressedEnvelope& request,
                                   size_t limit) {
  if (request.encoding().empty() || request.encoding() == kIdentityEncoding) {
    if (request.body().size() > limit) {
      return AsapError(ErrorCode::kPayloadTooLarge,
                       absl::StrCat("body of ", request.body().size(),
                                    " bytes exceeds the limit of ", limit));
    }
    return request.body();
  }
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(request.encoding());
  if (!codec.ok()) {
    return AsapError(
        ErrorCode::kUnsupportedEncoding,
        absl::StrCat("encoding '", request.encoding().substr(0, 32),
                     "' is not supported; supported: ",
                     absl::StrJoin(SupportedEncodings(), ", "), ", ",
                     kIdentityEncoding));
  }
  return (*codec)->Decompress(request.body(), limit);
}

}  // namespace

absl::StatusOr<v1::CompressedEnvelope> HandleCompressedSend(
    const EnvelopeDispatcher& dispatcher, const v1::CompressedEnvelope& request,
    const CompressedSendLimits& limits) {
  absl::StatusOr<std::string> bytes =
      Decode(request, limits.max_decompressed_bytes);
  if (!bytes.ok()) return bytes.status();
  v1::Envelope envelope;
  if (!envelope.ParseFromString(*bytes)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "the decompressed body is not a serialized Envelope");
  }
  absl::StatusOr<v1::Envelope> response = dispatcher.Dispatch(envelope);
  if (!response.ok()) return response.status();

  v1::CompressedEnvelope answer;
  std::string serialized = response->SerializeAsString();
  std::string encoding = NegotiateEncoding(request.accept_encoding());
  if (encoding != kIdentityEncoding &&
      serialized.size() >= limits.response_threshold_bytes) {
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
    if (codec.ok()) {
      absl::StatusOr<std::string> compressed = (*codec)->Compress(serialized);
      if (compressed.ok() && compressed->size() < serialized.size()) {
        answer.set_encoding(encoding);
        answer.set_body(*std::move(compressed));
        return answer;
      }
    }
  }
  answer.set_encoding(std::string(kIdentityEncoding));
  answer.set_body(std::move(serialized));
  return answer;
}

}  // namespace asap
