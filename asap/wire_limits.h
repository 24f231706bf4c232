// Structural limits checked on serialized envelopes before they are parsed.
//
// Parsing a protobuf Struct materialises every JSON value as a heap object:
// a 10 MB message can hold five million tiny list elements and grow to about
// half a gigabyte once parsed. The scanners below walk the wire format of an
// asap.v1.Envelope (or of a BatchFrame of them) without allocating, count the
// JSON values and the nesting depth of `payload` and `extensions`, and refuse
// what is over the limits, so the parse that follows has a known cost.
//
//   asap::EnvelopeLimits limits;                  // 100 000 values, depth 32
//   absl::StatusOr<asap::WireCounts> counts =
//       asap::ScanEnvelopeBytes(bytes, limits);
//   if (!counts.ok()) return counts.status();     // resource_exhausted or
//                                                 // malformed_envelope
//   size_t cost = asap::EstimateParsedBytes(bytes.size(), *counts);
#ifndef ASAP_WIRE_LIMITS_H_
#define ASAP_WIRE_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asap {

struct EnvelopeLimits {
  // JSON values (object members and list elements, at any depth) across an
  // envelope's payload and extensions. ASAP payloads in the wild hold tens to
  // a few thousand values; 100 000 leaves room for bulk data while bounding a
  // parsed envelope to roughly 13 MB.
  int64_t max_json_values = 100000;
  // Nesting depth of objects and lists. Real payloads nest a handful of
  // levels; 32 keeps protobuf's own recursion limit (100) out of reach.
  int max_depth = 32;
};

struct WireCounts {
  int64_t envelopes = 0;
  // The largest number of JSON values in any one envelope scanned.
  int64_t max_json_values = 0;
  // JSON values in all envelopes scanned.
  int64_t total_json_values = 0;
};

// Scans a serialized asap.v1.Envelope. Returns the counts, or
// asap:transport/resource_exhausted naming the limit that was passed, or
// asap:protocol/malformed_envelope when the bytes are not an Envelope.
absl::StatusOr<WireCounts> ScanEnvelopeBytes(absl::string_view bytes,
                                             const EnvelopeLimits& limits);

// Scans a serialized asap.v1.BatchFrame: at most `max_envelopes` envelopes,
// each within `limits`. Errors as ScanEnvelopeBytes.
absl::StatusOr<WireCounts> ScanBatchFrameBytes(absl::string_view bytes,
                                               int64_t max_envelopes,
                                               const EnvelopeLimits& limits);

// An upper estimate of the memory a message of `wire_bytes` bytes with
// `counts` takes once parsed (wire bytes plus a per-value cost measured for
// google.protobuf.Value with glibc malloc, rounded up).
size_t EstimateParsedBytes(size_t wire_bytes, const WireCounts& counts);

}  // namespace asap

#endif  // ASAP_WIRE_LIMITS_H_
