#include "server/grpc/compressed_send.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"

namespace asap {

std::string ServerAcceptEncoding() {
  return absl::StrJoin(SupportedEncodings(), ", ");
}

absl::StatusOr<std::string> DecodeBody(absl::string_view encoding,
                                       absl::string_view body, size_t limit) {
  if (encoding.empty() || encoding == kIdentityEncoding) {
    if (body.size() > limit) {
      return AsapError(ErrorCode::kPayloadTooLarge,
                       absl::StrCat("body of ", body.size(),
                                    " bytes exceeds the limit of ", limit));
    }
    return std::string(body);
  }
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
  if (!codec.ok()) {
    return AsapError(
        ErrorCode::kUnsupportedEncoding,
        absl::StrCat("encoding '", encoding.substr(0, 32),
                     "' is not supported; supported: ", ServerAcceptEncoding(),
                     ", ", kIdentityEncoding));
  }
  return (*codec)->Decompress(body, limit);
}

v1::CompressedEnvelope EncodeBody(std::string serialized,
                                  absl::string_view accept_encoding,
                                  size_t threshold, int level) {
  v1::CompressedEnvelope answer;
  std::string encoding = NegotiateEncoding(accept_encoding);
  if (encoding != kIdentityEncoding && serialized.size() >= threshold) {
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
    if (codec.ok()) {
      absl::StatusOr<std::string> compressed =
          (*codec)->Compress(serialized, level);
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
