#include "asap/wire_limits.h"

#include <algorithm>

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

enum class Outcome {
  kOk,
  kMalformed,
  kTooManyValues,
  kTooDeep,
  kTooManyEnvelopes
};

class Scanner {
 public:
  Scanner(const EnvelopeLimits& limits, int64_t max_envelopes)
      : limits_(limits), max_envelopes_(max_envelopes) {}

  const WireCounts& counts() const { return counts_; }

  // A serialized Envelope, or a BatchFrame of them, from the stream's
  // position to the end of the bytes.
  Outcome Envelope(CodedInputStream* in) {
    // Payload and extensions are the top objects: depth 0.
    Outcome outcome = Fields(in, -1, [](int field) -> Walker {
      return field == kEnvelopePayload || field == kEnvelopeExtensions
                 ? &Scanner::Struct
                 : nullptr;
    });
    if (outcome == Outcome::kOk) Tally();
    return outcome;
  }
  Outcome BatchFrame(CodedInputStream* in) {
    return Fields(in, 0, [](int field) -> Walker {
      return field == kBatchFrameEnvelopes ? &Scanner::FrameEnvelope : nullptr;
    });
  }

 private:
  using Walker = Outcome (Scanner::*)(CodedInputStream*, int);

  static bool IsLengthDelimited(uint32_t tag) {
    return WireFormatLite::GetTagWireType(tag) ==
           WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
  }

  // Walks the fields of one message up to its end (the current limit). A
  // length-delimited field that `route` maps to a walker is walked one level
  // deeper when the walker nests JSON (Struct and List), at the same level
  // otherwise; every other field is skipped. A zero tag before the end, a
  // field that does not parse, or a length prefix that reaches past the
  // enclosing message (PushLimit would silently clamp it, accepting what
  // protobuf rejects as truncated) is malformed.
  template <typename Route>
  Outcome Fields(CodedInputStream* in, int depth, Route route) {
    while (true) {
      uint32_t tag = in->ReadTag();
      if (tag == 0) {
        // The end of the message, not a zero tag or a cut-off varint.
        return in->ConsumedEntireMessage() && in->BytesUntilLimit() == 0
                   ? Outcome::kOk
                   : Outcome::kMalformed;
      }
      Walker walker = IsLengthDelimited(tag)
                          ? route(WireFormatLite::GetTagFieldNumber(tag))
                          : nullptr;
      if (walker == nullptr) {
        if (!WireFormatLite::SkipField(in, tag)) return Outcome::kMalformed;
        continue;
      }
      int inner_depth = depth;
      if (walker == &Scanner::Struct || walker == &Scanner::List) {
        if (++inner_depth > limits_.max_depth) return Outcome::kTooDeep;
      }
      uint32_t length;
      if (!in->ReadVarint32(&length) || in->BytesUntilLimit() < 0 ||
          length > static_cast<uint32_t>(in->BytesUntilLimit())) {
        return Outcome::kMalformed;
      }
      CodedInputStream::Limit limit = in->PushLimit(static_cast<int>(length));
      Outcome outcome = (this->*walker)(in, inner_depth);
      in->PopLimit(limit);
      if (outcome != Outcome::kOk) return outcome;
    }
  }

  Outcome FrameEnvelope(CodedInputStream* in, int depth) {
    if (counts_.envelopes >= max_envelopes_) {
      return Outcome::kTooManyEnvelopes;
    }
    values_ = 0;
    return Envelope(in);
  }

  // google.protobuf.Struct: map<string, Value> fields = 1.
  Outcome Struct(CodedInputStream* in, int depth) {
    return Fields(in, depth, [](int field) -> Walker {
      return field == kStructFields ? &Scanner::MapEntry : nullptr;
    });
  }

  // google.protobuf.ListValue: repeated Value values = 1.
  Outcome List(CodedInputStream* in, int depth) {
    return Fields(in, depth, [](int field) -> Walker {
      return field == kListValues ? &Scanner::CountedValue : nullptr;
    });
  }

  // A map entry is one JSON value even when its value field is absent
  // (parsing creates a default Value).
  Outcome MapEntry(CodedInputStream* in, int depth) {
    if (++values_ > limits_.max_json_values) return Outcome::kTooManyValues;
    return Fields(in, depth, [](int field) -> Walker {
      return field == kMapEntryValue ? &Scanner::Value : nullptr;
    });
  }

  Outcome CountedValue(CodedInputStream* in, int depth) {
    if (++values_ > limits_.max_json_values) return Outcome::kTooManyValues;
    return Value(in, depth);
  }

  // google.protobuf.Value: struct_value = 5 and list_value = 6 nest.
  Outcome Value(CodedInputStream* in, int depth) {
    return Fields(in, depth, [](int field) -> Walker {
      if (field == kValueStruct) return &Scanner::Struct;
      if (field == kValueList) return &Scanner::List;
      return nullptr;
    });
  }

  void Tally() {
    ++counts_.envelopes;
    counts_.total_json_values += values_;
    counts_.max_json_values = std::max(counts_.max_json_values, values_);
  }

  const EnvelopeLimits& limits_;
  const int64_t max_envelopes_;
  WireCounts counts_;
  int64_t values_ = 0;  // of the envelope being scanned
};

absl::Status ErrorFor(Outcome outcome, const EnvelopeLimits& limits,
                      int64_t max_envelopes) {
  switch (outcome) {
    case Outcome::kTooManyEnvelopes:
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("a batch frame holds more than ", max_envelopes,
                       " envelopes (ServerOptions::limits."
                       "max_envelopes_per_frame)"));
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
  if (Oversized(bytes)) return ErrorFor(Outcome::kMalformed, limits, 1);
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  Scanner scanner(limits, 1);
  if (Outcome o = scanner.Envelope(&in); o != Outcome::kOk) {
    return ErrorFor(o, limits, 1);
  }
  return scanner.counts();
}

absl::StatusOr<WireCounts> ScanBatchFrameBytes(absl::string_view bytes,
                                               int64_t max_envelopes,
                                               const EnvelopeLimits& limits) {
  if (Oversized(bytes)) {
    return ErrorFor(Outcome::kMalformed, limits, max_envelopes);
  }
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  Scanner scanner(limits, max_envelopes);
  if (Outcome o = scanner.BatchFrame(&in); o != Outcome::kOk) {
    return ErrorFor(o, limits, max_envelopes);
  }
  return scanner.counts();
}

size_t EstimateParsedBytes(size_t wire_bytes, const WireCounts& counts) {
  return wire_bytes +
         static_cast<size_t>(counts.total_json_values) * kParsedBytesPerValue +
         static_cast<size_t>(counts.envelopes) * 512;
}

}  // namespace asap
