#include "asap/wire_limits.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace asap {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Field numbers of the messages walked (asap/v1/envelope.proto,
// asap/v1/service.proto and google/protobuf/struct.proto).
constexpr int kEnvelopePayload = 7;
constexpr int kEnvelopeExtensions = 10;
constexpr int kBatchFrameEnvelopes = 1;
constexpr int kStructFields = 1;
constexpr int kMapEntryValue = 2;
constexpr int kValueStruct = 5;
constexpr int kValueList = 6;
constexpr int kListValues = 1;

// Bytes one parsed JSON value costs: a google.protobuf.Value (32 bytes), its
// map node or repeated-field slot and malloc's overhead. Measured at 70-100
// bytes per value for lists and objects of small values; rounded up.
constexpr size_t kParsedBytesPerValue = 128;

enum class Outcome { kOk, kMalformed, kTooManyValues, kTooDeep };

class Scanner {
 public:
  explicit Scanner(const EnvelopeLimits& limits) : limits_(limits) {}

  int64_t values() const { return values_; }
  void ResetValues() { values_ = 0; }

  Outcome Envelope(CodedInputStream* in) {
    while (true) {
      uint32_t tag = in->ReadTag();
      if (tag == 0)
        return in->ConsumedEntireMessage() ? Outcome::kOk : Outcome::kMalformed;
      int field = WireFormatLite::GetTagFieldNumber(tag);
      if ((field == kEnvelopePayload || field == kEnvelopeExtensions) &&
          IsLengthDelimited(tag)) {
        if (Outcome o = Nested(in, &Scanner::Struct, 0); o != Outcome::kOk) {
          return o;
        }
      } else if (!WireFormatLite::SkipField(in, tag)) {
        return Outcome::kMalformed;
      }
    }
  }

 private:
  using Walker = Outcome (Scanner::*)(CodedInputStream*, int);

  // A length prefix must not reach past the enclosing message: PushLimit
  // would silently clamp it, accepting what protobuf rejects as truncated.
  static bool Fits(CodedInputStream* in, uint32_t length) {
    int remaining = in->BytesUntilLimit();
    return remaining >= 0 && length <= static_cast<uint32_t>(remaining);
  }

  static bool IsLengthDelimited(uint32_t tag) {
    return WireFormatLite::GetTagWireType(tag) ==
           WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  }

  // Runs `walker` over the length-delimited message at the stream's position.
  Outcome Nested(CodedInputStream* in, Walker walker, int depth) {
    uint32_t length;
    if (!in->ReadVarint32(&length) || !Fits(in, length)) {
      return Outcome::kMalformed;
    }
    CodedInputStream::Limit limit = in->PushLimit(static_cast<int>(length));
    Outcome outcome = (this->*walker)(in, depth);
    if (outcome == Outcome::kOk && in->BytesUntilLimit() != 0) {
      outcome = Outcome::kMalformed;
    }
    in->PopLimit(limit);
    return outcome;
  }

  // google.protobuf.Struct: map<string, Value> fields = 1.
  Outcome Struct(CodedInputStream* in, int depth) {
    return Repeated(in, depth, kStructFields, &Scanner::MapEntry);
  }

  // google.protobuf.ListValue: repeated Value values = 1.
  Outcome List(CodedInputStream* in, int depth) {
    return Repeated(in, depth, kListValues, &Scanner::CountedValue);
  }

  Outcome Repeated(CodedInputStream* in, int depth, int field_number,
                   Walker element) {
    while (true) {
      uint32_t tag = in->ReadTag();
      if (tag == 0) {
        return in->BytesUntilLimit() == 0 ? Outcome::kOk : Outcome::kMalformed;
      }
      if (WireFormatLite::GetTagFieldNumber(tag) == field_number &&
          IsLengthDelimited(tag)) {
        if (Outcome o = Nested(in, element, depth); o != Outcome::kOk) return o;
      } else if (!WireFormatLite::SkipField(in, tag)) {
        return Outcome::kMalformed;
      }
    }
  }

  // A map entry is one JSON value even when its value field is absent
  // (parsing creates a default Value).
  Outcome MapEntry(CodedInputStream* in, int depth) {
    if (++values_ > limits_.max_json_values) return Outcome::kTooManyValues;
    while (true) {
      uint32_t tag = in->ReadTag();
      if (tag == 0) {
        return in->BytesUntilLimit() == 0 ? Outcome::kOk : Outcome::kMalformed;
      }
      if (WireFormatLite::GetTagFieldNumber(tag) == kMapEntryValue &&
          IsLengthDelimited(tag)) {
        if (Outcome o = Nested(in, &Scanner::Value, depth); o != Outcome::kOk) {
          return o;
        }
      } else if (!WireFormatLite::SkipField(in, tag)) {
        return Outcome::kMalformed;
      }
    }
  }

  Outcome CountedValue(CodedInputStream* in, int depth) {
    if (++values_ > limits_.max_json_values) return Outcome::kTooManyValues;
    return Value(in, depth);
  }

  // google.protobuf.Value: struct_value = 5 and list_value = 6 nest.
  Outcome Value(CodedInputStream* in, int depth) {
    while (true) {
      uint32_t tag = in->ReadTag();
      if (tag == 0) {
        return in->BytesUntilLimit() == 0 ? Outcome::kOk : Outcome::kMalformed;
      }
      int field = WireFormatLite::GetTagFieldNumber(tag);
      if ((field == kValueStruct || field == kValueList) &&
          IsLengthDelimited(tag)) {
        if (depth + 1 > limits_.max_depth) return Outcome::kTooDeep;
        Walker walker =
            field == kValueStruct ? &Scanner::Struct : &Scanner::List;
        if (Outcome o = Nested(in, walker, depth + 1); o != Outcome::kOk) {
          return o;
        }
      } else if (!WireFormatLite::SkipField(in, tag)) {
        return Outcome::kMalformed;
      }
    }
  }

  const EnvelopeLimits& limits_;
  int64_t values_ = 0;
};

absl::Status ErrorFor(Outcome outcome, const EnvelopeLimits& limits) {
  switch (outcome) {
    case Outcome::kTooManyValues:
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("an envelope holds more than ", limits.max_json_values,
                       " JSON values (ServerOptions::limits.max_json_values)"));
    case Outcome::kTooDeep:
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("an envelope nests JSON deeper than ", limits.max_depth,
                       " levels (ServerOptions::limits.max_depth)"));
    case Outcome::kMalformed:
    case Outcome::kOk:
      break;
  }
  return AsapError(ErrorCode::kMalformedEnvelope,
                   "the message is not a serialized asap.v1.Envelope");
}

bool Oversized(absl::string_view bytes) {
  return bytes.size() > static_cast<size_t>(INT32_MAX);
}

}  // namespace

absl::StatusOr<WireCounts> ScanEnvelopeBytes(absl::string_view bytes,
                                             const EnvelopeLimits& limits) {
  if (Oversized(bytes)) return ErrorFor(Outcome::kMalformed, limits);
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  Scanner scanner(limits);
  if (Outcome o = scanner.Envelope(&in); o != Outcome::kOk) {
    return ErrorFor(o, limits);
  }
  WireCounts counts;
  counts.envelopes = 1;
  counts.max_json_values = counts.total_json_values = scanner.values();
  return counts;
}

absl::StatusOr<WireCounts> ScanBatchFrameBytes(absl::string_view bytes,
                                               int64_t max_envelopes,
                                               const EnvelopeLimits& limits) {
  if (Oversized(bytes)) return ErrorFor(Outcome::kMalformed, limits);
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  Scanner scanner(limits);
  WireCounts counts;
  while (true) {
    uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (WireFormatLite::GetTagFieldNumber(tag) != kBatchFrameEnvelopes ||
        WireFormatLite::GetTagWireType(tag) !=
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) {
        return ErrorFor(Outcome::kMalformed, limits);
      }
      continue;
    }
    if (++counts.envelopes > max_envelopes) {
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("a batch frame holds more than ", max_envelopes,
                       " envelopes (ServerOptions::limits."
                       "max_envelopes_per_frame)"));
    }
    uint32_t length;
    if (!in.ReadVarint32(&length) || in.BytesUntilLimit() < 0 ||
        length > static_cast<uint32_t>(in.BytesUntilLimit())) {
      return ErrorFor(Outcome::kMalformed, limits);
    }
    CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
    scanner.ResetValues();
    Outcome outcome = scanner.Envelope(&in);
    in.PopLimit(limit);
    if (outcome != Outcome::kOk) return ErrorFor(outcome, limits);
    counts.total_json_values += scanner.values();
    if (scanner.values() > counts.max_json_values) {
      counts.max_json_values = scanner.values();
    }
  }
  if (!in.ConsumedEntireMessage()) {
    return ErrorFor(Outcome::kMalformed, limits);
  }
  return counts;
}

size_t EstimateParsedBytes(size_t wire_bytes, const WireCounts& counts) {
  return wire_bytes +
         static_cast<size_t>(counts.total_json_values) * kParsedBytesPerValue +
         static_cast<size_t>(counts.envelopes) * 512;
}

}  // namespace asap
