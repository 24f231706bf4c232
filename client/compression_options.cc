#include "client/compression_options.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asap/compression/codec.h"

namespace asap {

absl::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return kIdentityEncoding;
    case Compression::kGzip:
      return kGzipEncoding;
    case Compression::kBrotli:
      return kBrotliEncoding;
  }
  return "unknown";
}

absl::StatusOr<Compression> ParseCompression(absl::string_view name) {
  const std::string lower =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (lower == "none" || lower == kIdentityEncoding) return Compression::kNone;
  if (lower == kGzipEncoding) return Compression::kGzip;
  if (lower == kBrotliEncoding) return Compression::kBrotli;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown compression '", name, "': expected none, gzip or br"));
}

std::string AcceptEncodingList(absl::Span<const Compression> accepted) {
  std::string list;
  for (Compression compression : accepted) {
    if (compression == Compression::kNone) continue;
    if (!list.empty()) list += ", ";
    absl::StrAppend(&list, CompressionName(compression));
  }
  return list;
}

}  // namespace asap
