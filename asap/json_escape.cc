#include "asap/json_escape.h"

#include <array>
#include <cstddef>
#include <cstdint>

namespace asap {
namespace {

// protobuf's JsonEscaping: the code points it writes as \u escapes besides
// the ASCII ones (C1 controls and invisible formatting characters).
bool ProtobufEscapes(uint32_t cp) {
  return (cp >= 0x7F && cp <= 0x9F) || cp == 0xAD ||
         (cp >= 0x600 && cp <= 0x603) || cp == 0x6DD || cp == 0x70F ||
         cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF ||
         (cp >= 0xFFF9 && cp <= 0xFFFB) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
         cp == 0xE0001 || (cp >= 0xE0020 && cp <= 0xE007F);
}

using RawBytes = std::array<bool, 256>;

// The bytes `escaping` copies without a look at them, so runs of them go
// out in one append.
constexpr RawBytes RawBytesOf(JsonEscaping escaping) {
  RawBytes raw{};
  for (int c = 0x20; c < 0x7F; ++c) raw[c] = true;
  raw['"'] = false;
  raw['\\'] = false;
  if (escaping == JsonEscaping::kProtobuf) {
    raw['<'] = false;
    raw['>'] = false;
  }
  if (escaping == JsonEscaping::kMinimal) {
    for (int c = 0x7F; c < 0x100; ++c) raw[c] = true;
  }
  return raw;
}

constexpr RawBytes kRawBytes[] = {
    RawBytesOf(JsonEscaping::kMinimal),
    RawBytesOf(JsonEscaping::kProtobuf),
    RawBytesOf(JsonEscaping::kAscii),
};

void AppendUnicodeEscape(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char escape[6] = {'\\',
                    'u',
                    kHex[(unit >> 12) & 0xF],
                    kHex[(unit >> 8) & 0xF],
                    kHex[(unit >> 4) & 0xF],
                    kHex[unit & 0xF]};
  out->append(escape, sizeof(escape));
}

// `cp` as one \u escape, or as a surrogate pair above U+FFFF.
void AppendCodePointEscape(uint32_t cp, std::string* out) {
  if (cp < 0x10000) {
    AppendUnicodeEscape(cp, out);
    return;
  }
  cp -= 0x10000;
  AppendUnicodeEscape(0xD800 + (cp >> 10), out);
  AppendUnicodeEscape(0xDC00 + (cp & 0x3FF), out);
}

// An ASCII byte that is not raw in `escaping`.
void AppendAsciiEscape(unsigned char c, JsonEscaping escaping,
                       std::string* out) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return;
    case '\\':
      out->append("\\\\");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\b':
      if (escaping != JsonEscaping::kProtobuf) break;
      out->append("\\b");
      return;
    case '\f':
      if (escaping != JsonEscaping::kProtobuf) break;
      out->append("\\f");
      return;
    default:
      break;
  }
  AppendUnicodeEscape(c, out);
}

// The code point of the well-formed UTF-8 sequence at `at`, and its length;
// length 0 when the bytes are not one (overlong, a surrogate, past
// U+10FFFF, truncated).
uint32_t DecodeUtf8(const unsigned char* at, const unsigned char* end,
                    int* length) {
  *length = 0;
  unsigned char lead = at[0];
  int size;
  uint32_t cp;
  uint32_t min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    size = 2, cp = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    size = 3, cp = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    size = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (end - at < size) return 0;
  for (int i = 1; i < size; ++i) {
    if ((at[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (at[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *length = size;
  return cp;
}

}  // namespace

void AppendJsonString(absl::string_view text, JsonEscaping escaping,
                      std::string* out) {
  const RawBytes& raw = kRawBytes[static_cast<size_t>(escaping)];
  out->push_back('"');
  const auto* at = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = at + text.size();
  while (at < end) {
    const unsigned char* run = at;
    while (at < end && raw[*at]) ++at;
    out->append(reinterpret_cast<const char*>(run),
                static_cast<size_t>(at - run));
    if (at == end) break;
    if (*at < 0x80) {
      AppendAsciiEscape(*at, escaping, out);
      ++at;
      continue;
    }
    // Only kProtobuf and kAscii look at bytes from 0x80.
    int length;
    uint32_t cp = DecodeUtf8(at, end, &length);
    if (length == 0) {
      if (escaping == JsonEscaping::kAscii) out->append("\\ufffd");
      ++at;
      continue;
    }
    if (escaping == JsonEscaping::kProtobuf && !ProtobufEscapes(cp)) {
      out->append(reinterpret_cast<const char*>(at),
                  static_cast<size_t>(length));
    } else {
      AppendCodePointEscape(cp, out);
    }
    at += length;
  }
  out->push_back('"');
}

}  // namespace asap
