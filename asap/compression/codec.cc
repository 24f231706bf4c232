#include "asap/compression/codec.h"

#include <string>

#include "absl/base/macros.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "asap/compression/internal/codec_internal.h"
#include "asap/errors.h"

namespace asap {
namespace {

// This side's order of preference: at the default levels brotli compresses
// JSON smaller than gzip (see brotli_codec.cc), so it comes first.
constexpr absl::string_view kSupportedEncodings[] = {kBrotliEncoding,
                                                     kGzipEncoding};

// Whether the parameters of one accept-list entry (the text after its first
// ';', for example " q=0.5") say the encoding is not acceptable: "q=0",
// "q=0.", "q=0.0", ... Malformed or other parameters are ignored.
bool RefusedByParameters(absl::string_view parameters) {
  for (absl::string_view parameter : absl::StrSplit(parameters, ';')) {
    parameter = absl::StripAsciiWhitespace(parameter);
    if (!absl::StartsWithIgnoreCase(parameter, "q=")) continue;
    absl::string_view value = absl::StripAsciiWhitespace(parameter.substr(2));
    if (value.empty() || value[0] != '0') continue;
    value.remove_prefix(1);
    if (value.empty()) return true;
    if (value[0] != '.') continue;
    value.remove_prefix(1);
    if (value.find_first_not_of('0') == absl::string_view::npos) return true;
  }
  return false;
}

}  // namespace

namespace compression_internal {

absl::Status TooLargeError(absl::string_view codec, size_t max_output_bytes) {
  return AsapError(
      ErrorCode::kPayloadTooLarge,
      absl::StrCat(codec, ": decompressed data exceeds the limit of ",
                   max_output_bytes, " bytes"));
}

absl::Status CorruptError(absl::string_view codec, absl::string_view what) {
  return AsapError(ErrorCode::kCorruptBody, absl::StrCat(codec, ": ", what));
}

absl::Status InternalError(absl::string_view codec, absl::string_view what) {
  return AsapError(ErrorCode::kInternal, absl::StrCat(codec, ": ", what));
}

}  // namespace compression_internal

absl::StatusOr<const CompressionCodec*> FindCodec(absl::string_view name) {
  absl::string_view stripped = absl::StripAsciiWhitespace(name);
  if (absl::EqualsIgnoreCase(stripped, kGzipEncoding)) {
    return &compression_internal::GzipCodec();
  }
  if (absl::EqualsIgnoreCase(stripped, kBrotliEncoding)) {
    return &compression_internal::BrotliCodec();
  }
  // Quote at most kMaxQuotedName bytes of a name that came from a peer.
  constexpr size_t kMaxQuotedName = 64;
  std::string quoted = absl::CEscape(name.substr(0, kMaxQuotedName));
  if (name.size() > kMaxQuotedName) quoted += "...";
  return AsapError(ErrorCode::kUnsupportedEncoding,
                   absl::StrCat("unsupported compression encoding \"", quoted,
                                "\"; supported encodings: ",
                                absl::StrJoin(SupportedEncodings(), ", "),
                                " (or ", kIdentityEncoding, " for none)"));
}

absl::Span<const absl::string_view> SupportedEncodings() {
  return kSupportedEncodings;
}

std::string NegotiateEncoding(absl::string_view accept_list) {
  bool accepted[ABSL_ARRAYSIZE(kSupportedEncodings)] = {};
  for (absl::string_view entry : absl::StrSplit(accept_list, ',')) {
    absl::string_view parameters;
    size_t semicolon = entry.find(';');
    if (semicolon != absl::string_view::npos) {
      parameters = entry.substr(semicolon + 1);
      entry = entry.substr(0, semicolon);
    }
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty() || RefusedByParameters(parameters)) continue;
    for (size_t i = 0; i < ABSL_ARRAYSIZE(kSupportedEncodings); ++i) {
      if (absl::EqualsIgnoreCase(entry, kSupportedEncodings[i])) {
        accepted[i] = true;
      }
    }
  }
  for (size_t i = 0; i < ABSL_ARRAYSIZE(kSupportedEncodings); ++i) {
    if (accepted[i]) return std::string(kSupportedEncodings[i]);
  }
  return std::string(kIdentityEncoding);
}

}  // namespace asap
