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
  if (options.algorithm == "none" || size < options.threshold_bytes) {
    return std::string(kIdentityEncoding);
  }
  if (Advertises(advertised, options.algorithm)) return options.algorithm;
  return NegotiateEncoding(advertised);
}

absl::StatusOr<std::optional<v1::CompressedEnvelope>> EncodeRequestBody(
    const v1::Envelope& envelope, const CompressionOptions& options,
    absl::string_view advertised) {
  size_t size = envelope.ByteSizeLong();
  std::string encoding = ChooseRequestEncoding(size, options, advertised);
  if (encoding == kIdentityEncoding) return std::nullopt;
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
  if (!codec.ok()) return codec.status();
  // The level is on the configured algorithm's scale; another algorithm
  // (the only one the target takes) runs at its default.
  int level = encoding == options.algorithm ? options.level : -1;
  absl::StatusOr<std::string> body =
      (*codec)->Compress(envelope.SerializeAsString(), level);
  if (!body.ok()) return body.status();
  if (body->size() >= size) return std::nullopt;  // incompressible: send as is
  v1::CompressedEnvelope request;
  request.set_encoding(std::move(encoding));
  request.set_accept_encoding(options.accept_encoding);
  request.set_body(*std::move(body));
  return request;
}

absl::StatusOr<v1::Envelope> DecodeResponseBody(
    const v1::CompressedEnvelope& answer, size_t max_bytes) {
  const std::string* bytes = &answer.body();
  std::string decompressed;
  if (!answer.encoding().empty() && answer.encoding() != kIdentityEncoding) {
    absl::StatusOr<const CompressionCodec*> codec =
        FindCodec(answer.encoding());
    if (!codec.ok()) return codec.status();
    absl::StatusOr<std::string> output =
        (*codec)->Decompress(answer.body(), max_bytes);
    if (!output.ok()) return output.status();
    decompressed = *std::move(output);
    bytes = &decompressed;
  } else if (answer.body().size() > max_bytes) {
    return AsapError(ErrorCode::kPayloadTooLarge,
                     absl::StrCat("response body of ", answer.body().size(),
                                  " bytes exceeds the limit of ", max_bytes));
  }
  v1::Envelope response;
  if (!response.ParseFromString(*bytes)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "the response body is not an Envelope");
  }
  return response;
}

}  // namespace asap::internal
