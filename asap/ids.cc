#include "asap/ids.h"

#include <cstdint>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asap/errors.h"

namespace asap {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

bool IsCrockford(char c) {
  c = absl::ascii_toupper(static_cast<unsigned char>(c));
  for (const char* p = kCrockford; *p != '\0'; ++p) {
    if (*p == c) return true;
  }
  return false;
}

// Per-thread generator: no lock on the hot path, seeded from the OS.
std::mt19937_64& ThreadRng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

bool IsUrnSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

std::string NewUlid() { return NewUlid(absl::Now()); }

std::string NewUlid(absl::Time time) {
  uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(time)) &
                    ((uint64_t{1} << 48) - 1);
  uint64_t random_high = ThreadRng()() & ((uint64_t{1} << 16) - 1);  // 16 bits
  uint64_t random_low = ThreadRng()();                               // 64 bits
  // 128 bits = 48 time + 80 random, written as 26 five-bit digits (130 bits,
  // the top two are zero).
  unsigned __int128 value = (static_cast<unsigned __int128>(millis) << 80) |
                            (static_cast<unsigned __int128>(random_high) << 64) |
                            random_low;
  std::string out(26, '0');
  for (int i = 25; i >= 0; --i) {
    out[i] = kCrockford[static_cast<int>(value & 31)];
    value >>= 5;
  }
  return out;
}

bool IsUlid(absl::string_view id) {
  if (id.size() != 26) return false;
  for (char c : id) {
    if (!IsCrockford(c)) return false;
  }
  return id[0] <= '7';
}

std::string FormatTimestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return time;
  // Python's datetime.isoformat() of a naive datetime has no offset.
  if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*S", text, absl::UTCTimeZone(), &time,
                      &error)) {
    return time;
  }
  return AsapError(ErrorCode::kInvalidTimestamp,
                   absl::StrCat("timestamp '", text.substr(0, 64),
                                "' is not RFC 3339 (", error, ")"));
}

bool IsAgentUrn(absl::string_view urn) {
  constexpr absl::string_view kPrefix = "urn:asap:agent:";
  if (urn.size() > kMaxUrnLength || urn.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  absl::string_view rest = urn.substr(kPrefix.size());
  int segments = 1;
  size_t segment_length = 0;
  for (char c : rest) {
    if (c == ':') {
      if (segment_length == 0 || ++segments > 2) return false;
      segment_length = 0;
    } else if (IsUrnSegmentChar(c)) {
      ++segment_length;
    } else {
      return false;
    }
  }
  return segment_length > 0;
}

}  // namespace asap
