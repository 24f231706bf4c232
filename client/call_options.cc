#include "client/call_options.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace asap {
namespace {

// Headers and metadata the client sets itself, or that HTTP gives a meaning
// of its own (hop-by-hop headers, framing): a caller's value would clash
// with the client's or change how the request travels.
constexpr absl::string_view kReservedKeys[] = {
    "accept",
    "accept-encoding",
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "expect",
    "host",
    "http2-settings",
    "if-none-match",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-idempotency-key",
};

bool KeyCharacter(char c) {
  return absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
         (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.';
}

absl::Status BadEntry(size_t index, absl::string_view key,
                      absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("CallOptions.metadata[", index,
                                                 "] '", absl::CHexEscape(key),
                                                 "': ", problem));
}

}  // namespace

absl::Status ValidateCallOptions(const CallOptions& options) {
  for (size_t i = 0; i < options.metadata.size(); ++i) {
    const auto& [key, value] = options.metadata[i];
    if (key.empty()) return BadEntry(i, key, "the key is empty");
    for (char c : key) {
      if (!KeyCharacter(c)) {
        return BadEntry(i, key,
                        "a key may hold only lower-case letters, digits and "
                        "'-', '_', '.'");
      }
    }
    if (absl::StartsWith(key, "grpc-") || absl::StartsWith(key, "asap-")) {
      return BadEntry(i, key, "grpc-* and asap-* keys are reserved");
    }
    if (absl::EndsWith(key, "-bin")) {
      return BadEntry(i, key, "binary (-bin) metadata is not supported");
    }
    for (absl::string_view reserved : kReservedKeys) {
      if (key == reserved) {
        return BadEntry(i, key, "the client sets this key itself");
      }
    }
    for (char c : value) {
      if (c < 0x20 || c > 0x7e) {
        return BadEntry(i, key,
                        "the value must be printable ASCII (no CR, LF or "
                        "other control characters)");
      }
    }
    if (!value.empty() && (value.front() == ' ' || value.back() == ' ')) {
      return BadEntry(i, key, "the value must not start or end with a space");
    }
  }
  return absl::OkStatus();
}

}  // namespace asap
