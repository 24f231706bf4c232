// The wire scanner agrees with protobuf: bytes protobuf parses as an
// Envelope are never "malformed" to the scanner (they may be over a limit),
// and bytes the scanner accepts parse (unless a string is not UTF-8, which
// only protobuf checks). Any disagreement aborts.
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "asap/v1/envelope.pb.h"
#include "asap/wire_limits.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static auto* quiet = new google::protobuf::LogSilencer;
  (void)quiet;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  asap::EnvelopeLimits limits;
  limits.max_json_values = 1000;
  limits.max_depth = 16;
  absl::StatusOr<asap::WireCounts> counts =
      asap::ScanEnvelopeBytes(bytes, limits);
  asap::v1::Envelope envelope;
  bool parsed = envelope.ParseFromArray(data, static_cast<int>(size));
  bool malformed = !counts.ok() && asap::ErrorCodeOf(counts.status()) ==
                                       asap::ErrorCode::kMalformedEnvelope;
  if (parsed && malformed) std::abort();
  if (counts.ok() && counts->total_json_values > limits.max_json_values) {
    std::abort();
  }
  return 0;
}
