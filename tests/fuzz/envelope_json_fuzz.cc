// ASAP JSON -> Envelope -> validation -> JSON again: no crash, no UB.
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/json.h"
#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static auto* quiet = new google::protobuf::LogSilencer;
  (void)quiet;
  std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<asap::v1::Envelope> envelope = asap::EnvelopeFromJson(json);
  if (!envelope.ok()) return 0;
  (void)asap::ValidateEnvelope(*envelope, absl::Now());
  (void)asap::EnvelopeFromJson(asap::ToJson(*envelope));
  return 0;
}
