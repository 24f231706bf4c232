#include "asap/ids.h"

#include <cstdint>
#include <optional>
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

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
// Hinnant's civil algorithms). Formatting and parsing timestamps by hand is
// ~10x faster than absl::FormatTime/ParseTime, and every envelope pays for
// one format and two parses on its way through a server.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

void PutDigits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// Reads `width` digits at text[*pos]; false if they are not all digits.
bool ReadDigits(absl::string_view text, size_t* pos, int width, int* value) {
  if (*pos + width > text.size()) return false;
  int result = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *pos += width;
  *value = result;
  return true;
}

bool Expect(absl::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

// The common shapes, fast: YYYY-MM-DDTHH:MM:SS[.fraction][Z|+hh:mm|-hh:mm].
// nullopt for anything else (ParseTimestamp then asks Abseil).
std::optional<absl::Time> ParseCommonTimestamp(absl::string_view text) {
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day) || !Expect(text, &pos, 'T') ||
      !ReadDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_seconds = 0;
  if (pos < text.size()) {
    if (text[pos] == 'Z') {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      int sign = text[pos] == '-' ? -1 : 1;
      ++pos;
      int oh, om;
      if (!ReadDigits(text, &pos, 2, &oh) || !Expect(text, &pos, ':') ||
          !ReadDigits(text, &pos, 2, &om) || oh > 23 || om > 59) {
        return std::nullopt;
      }
      offset_seconds = sign * (oh * 3600 + om * 60);
    } else {
      return std::nullopt;
    }
  }
  if (pos != text.size()) return std::nullopt;
  int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 +
                    minute * 60 + second - offset_seconds;
  return absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
}

}  // namespace

std::string FormatTimestamp(absl::Time time) {
  // ToUnixMicros saturates at the int64 range for far times: floor division
  // without an offset, so no intermediate value can overflow.
  int64_t micros = absl::ToUnixMicros(time);
  int64_t seconds = micros / 1000000 - (micros % 1000000 < 0 ? 1 : 0);
  int64_t fraction = (micros % 1000000 + 1000000) % 1000000;
  int64_t days = seconds / 86400 - (seconds % 86400 < 0 ? 1 : 0);
  int64_t second_of_day = (seconds % 86400 + 86400) % 86400;
  int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);
  if (year < 0 || year > 9999) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone());
  }
  std::string out = "0000-00-00T00:00:00.000000Z";
  PutDigits(&out[0], year, 4);
  PutDigits(&out[5], month, 2);
  PutDigits(&out[8], day, 2);
  PutDigits(&out[11], second_of_day / 3600, 2);
  PutDigits(&out[14], second_of_day / 60 % 60, 2);
  PutDigits(&out[17], second_of_day % 60, 2);
  PutDigits(&out[20], fraction, 6);
  return out;
}

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  if (std::optional<absl::Time> time = ParseCommonTimestamp(text)) return *time;
  absl::Time time;
  std::string error;
  // absl::ParseTime also takes "infinite-past" and "infinite-future", which
  // are no RFC 3339 timestamps.
  auto finite = [&time] {
    return time != absl::InfinitePast() && time != absl::InfiniteFuture();
  };
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error) && finite()) {
    return time;
  }
  // Python's datetime.isoformat() of a naive datetime has no offset.
  if (absl::ParseTime("%Y-%m-%dT%H:%M:%E*S", text, absl::UTCTimeZone(), &time,
                      &error) &&
      finite()) {
    return time;
  }
  return AsapError(ErrorCode::kInvalidTimestamp,
                   absl::StrCat("timestamp '", text.substr(0, 64),
                                "' is not RFC 3339 (", error, ")"));
}

std::string NewUlid() { return NewUlid(absl::Now()); }

std::string NewUlid(absl::Time time) {
  uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(time)) &
                    ((uint64_t{1} << 48) - 1);
  uint64_t random_high = ThreadRng()() & ((uint64_t{1} << 16) - 1);  // 16 bits
  uint64_t random_low = ThreadRng()();                               // 64 bits
  // 128 bits = 48 time + 80 random, written as 26 five-bit digits (130 bits,
  // the top two are zero).
  unsigned __int128 value =
      (static_cast<unsigned __int128>(millis) << 80) |
      (static_cast<unsigned __int128>(random_high) << 64) | random_low;
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
