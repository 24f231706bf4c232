// Fuzzes binary asap.v1.Envelope messages as the Send RPC receives them:
// bounded by the wire scan (asap/wire_limits.h), parsed, then validated and
// dispatched to the echo agent with the dispatcher's contract checked.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "asap/v1/envelope.pb.h"
#include "asap/wire_limits.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/echo_dispatch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static google::protobuf::LogSilencer quiet;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (!asap::ScanEnvelopeBytes(bytes, asap::EnvelopeLimits()).ok()) return 0;
  asap::v1::Envelope envelope;
  if (!envelope.ParseFromArray(data, static_cast<int>(size))) return 0;
  asap::fuzz::ValidateAndDispatch(envelope);
  return 0;
}
