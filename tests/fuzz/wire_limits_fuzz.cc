// Fuzzes the wire scanner (asap/wire_limits.h) against protobuf: bytes that
// protobuf parses as an Envelope are never "malformed" to the scanner (they
// may be over a limit), and what the scanner accepts is within its limits.
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "asap/v1/envelope.pb.h"
#include "asap/wire_limits.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static google::protobuf::LogSilencer quiet;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Small limits, so short inputs reach them.
  asap::EnvelopeLimits limits;
  limits.max_json_values = 1000;
  limits.max_depth = 16;
  absl::StatusOr<asap::WireCounts> counts =
      asap::ScanEnvelopeBytes(bytes, limits);
  asap::v1::Envelope envelope;
  bool parsed = envelope.ParseFromArray(data, static_cast<int>(size));
  bool malformed = !counts.ok() && asap::ErrorCodeOf(counts.status()) ==
                                       asap::ErrorCode::kMalformedEnvelope;
  FUZZ_CHECK(!(parsed && malformed),
             "protobuf parses what the scan calls "
             "malformed: %s",
             std::string(counts.status().message()).c_str());
  if (counts.ok()) {
    FUZZ_CHECK(counts->total_json_values <= limits.max_json_values,
               "%lld values accepted",
               static_cast<long long>(counts->total_json_values));
  }
  return 0;
}
