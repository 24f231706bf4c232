// JSON string literals, written by one routine for the whole project.
//
// Three writers need JSON strings and differ only in what they leave raw:
// the envelope codec must print exactly what protobuf's JSON printer prints,
// the call log must give a terminal or a collector nothing but ASCII, and
// StableJson (JSON Schemas, goldens) escapes only what JSON requires. Each
// picks a JsonEscaping; the quoting, the short escapes and the UTF-8 decoding
// are the same code.
//
//   std::string out;
//   asap::AppendJsonString("say \"hi\"\n", asap::JsonEscaping::kMinimal, &out);
//   // out == R"("say \"hi\"\n")"
#ifndef ASAP_JSON_ESCAPE_H_
#define ASAP_JSON_ESCAPE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace asap {

// What AppendJsonString escapes besides '"', '\\' and the controls below
// U+0020, which every mode escapes ('\n', '\r', '\t' as short escapes, the
// others as \u00XX). Every \u escape is lowercase hex.
enum class JsonEscaping {
  // Nothing more: DEL and every byte from 0x80, valid UTF-8 or not, are
  // copied as they are. For text whose bytes the caller trusts.
  kMinimal,
  // As protobuf's JSON printer (3.21): '\b' and '\f' as short escapes; '<',
  // '>', DEL, the C1 controls and invisible formatting characters (U+00AD,
  // U+200B..U+200F, U+2028..U+202E, U+FEFF, ...) as \u escapes, above U+FFFF
  // as a surrogate pair; bytes that are not UTF-8 dropped.
  kProtobuf,
  // Pure ASCII: DEL and every non-ASCII character as \u escapes (a surrogate
  // pair above U+FFFF), each byte that is not UTF-8 as \ufffd. No U+2028 or
  // bidi control reaches a reader raw.
  kAscii,
};

// Appends `text` to `out` as a quoted JSON string, escaped as `escaping`
// says. Never fails: every input gives valid JSON (in kMinimal, valid UTF-8
// only when `text` is).
void AppendJsonString(absl::string_view text, JsonEscaping escaping,
                      std::string* out);

}  // namespace asap

#endif  // ASAP_JSON_ESCAPE_H_
