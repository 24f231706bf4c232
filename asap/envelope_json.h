// ASAP JSON envelopes straight from and to RapidJSON, for the HTTP binding.
//
// The HTTP binding already holds the request body as a RapidJSON document;
// these read the envelope from it and write the answer's envelope without
// protobuf's JSON transcoder (which prints the value to text, tokenizes it
// again and goes through the binary wire format). They accept and print
// exactly what asap::EnvelopeFromJson and asap::ToJson do (asap/json.h, with
// protobuf 3.21): the differential fuzzer tests/fuzz/envelope_json_diff_fuzz
// holds them to it.
//
//   rapidjson::Document document;
//   if (!ParseJsonDocument(text, &document)) ...  // not JSON
//   absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJsonValue(document);
//   std::string json;
//   AppendEnvelopeJson(*envelope, &json);
#ifndef ASAP_ENVELOPE_JSON_H_
#define ASAP_ENVELOPE_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/v1/envelope.pb.h"
#include "rapidjson/document.h"
#include "rapidjson/error/error.h"
#include "rapidjson/reader.h"

namespace asap {

// The RapidJSON parse flags of the HTTP binding: iterative (deep nesting
// stays off the call stack), UTF-8 validated, and numbers passed on as text
// for ExactNumberHandler to read.
inline constexpr unsigned kJsonParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
    rapidjson::kParseNumbersAsStringsFlag;

// A JSON number as RapidJSON classifies it, with the value strtod (and so
// protobuf's JSON parser) gives it.
struct JsonNumber {
  enum class Kind { kInt64, kUint64, kDouble };
  Kind kind = Kind::kDouble;
  int64_t int64 = 0;
  uint64_t uint64 = 0;
  double value = 0;
};

// Reads a number RapidJSON has scanned (valid JSON number syntax): an
// integer that fits int64 (negative) or uint64 is one, anything else the
// nearest double, an infinity past the range of a double.
JsonNumber ReadJsonNumber(absl::string_view text);

// A RapidJSON SAX handler in front of `Handler` (a Document, say) for a
// reader parsing with kJsonParseFlags: it hands every number on as RapidJSON
// would without kParseNumbersAsStringsFlag, but with ReadJsonNumber's value.
// RapidJSON 1.1.0's own conversion can be an ulp off (normal precision) or
// wrong (full precision reads 0e-320 as -2e-137, 1.8e308 as NaN).
template <typename Handler>
class ExactNumberHandler {
 public:
  explicit ExactNumberHandler(Handler* handler) : handler_(handler) {}

  bool Null() { return handler_->Null(); }
  bool Bool(bool b) { return handler_->Bool(b); }
  bool Int(int i) { return handler_->Int(i); }
  bool Uint(unsigned u) { return handler_->Uint(u); }
  bool Int64(int64_t i) { return handler_->Int64(i); }
  bool Uint64(uint64_t u) { return handler_->Uint64(u); }
  bool Double(double d) { return handler_->Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool) {
    JsonNumber number = ReadJsonNumber(absl::string_view(str, length));
    switch (number.kind) {
      case JsonNumber::Kind::kInt64:
        return handler_->Int64(number.int64);
      case JsonNumber::Kind::kUint64:
        return handler_->Uint64(number.uint64);
      case JsonNumber::Kind::kDouble:
        break;
    }
    return handler_->Double(number.value);
  }
  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    return handler_->String(str, length, copy);
  }
  bool StartObject() { return handler_->StartObject(); }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    return handler_->Key(str, length, copy);
  }
  bool EndObject(rapidjson::SizeType members) {
    return handler_->EndObject(members);
  }
  bool StartArray() { return handler_->StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    return handler_->EndArray(elements);
  }

 private:
  Handler* handler_;
};

// Parses `json` into `document` with kJsonParseFlags and ExactNumberHandler,
// as the HTTP binding parses a request body (without its size limits). The
// result is false (an error) when `json` is not JSON.
rapidjson::ParseResult ParseJsonDocument(absl::string_view json,
                                         rapidjson::Document* document);

// The envelope of a JSON object, as asap::EnvelopeFromJson reads its text:
//  - members by proto name or lowerCamelCase JSON name ("payload_type",
//    "payloadType"); any other member is an error;
//  - a null member leaves its field as it is;
//  - a repeated string member: the last one wins; a repeated Struct member:
//    the later one's keys replace the earlier one's, the others stay;
//  - a repeated key inside one JSON object of a Struct is an error;
//  - numbers become doubles (read as ParseJsonDocument reads them; a
//    number past the range of a double is an error);
//  - a string holding an unpaired surrogate ("\udc00") is an error;
//  - Structs nest at most as deep as protobuf's binary parser allows (100
//    messages, counting each Struct, map entry, Value and ListValue).
// Errors are asap:protocol/malformed_envelope.
absl::StatusOr<v1::Envelope> EnvelopeFromJsonValue(
    const rapidjson::Value& object);

// Appends the envelope as asap::ToJson prints it, byte for byte: fields in
// proto order with their proto names, empty strings and unset Structs left
// out, numbers as protobuf's SimpleDtoa writes them (integers without ".0",
// NaN and infinities as strings), and protobuf's string escapes.
void AppendEnvelopeJson(const v1::Envelope& envelope, std::string* out);

}  // namespace asap

#endif  // ASAP_ENVELOPE_JSON_H_
