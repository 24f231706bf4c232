// Fuzzes asap.v1.BatchFrame messages as the SendBatch stream receives them:
// bounded by the wire scan (envelopes per frame, JSON values, depth),
// decompressed when the frame carries a compressed body, parsed, and every
// envelope validated and dispatched to the echo agent. It stops at the
// dispatcher, which every batch server implementation goes through.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "asap/v1/service.pb.h"
#include "asap/wire_limits.h"
#include "google/protobuf/stubs/logging.h"
#include "server/grpc/compressed_send.h"
#include "tests/fuzz/echo_dispatch.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr size_t kMaxBodyBytes = 1024 * 1024;
constexpr int64_t kMaxEnvelopes = 50;

absl::StatusOr<asap::WireCounts> Scan(const std::string& bytes) {
  return asap::ScanBatchFrameBytes(bytes, kMaxEnvelopes,
                                   asap::EnvelopeLimits());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static google::protobuf::LogSilencer quiet;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<asap::WireCounts> counts = Scan(bytes);
  if (!counts.ok()) return 0;
  if (counts->envelopes == 0) {
    // A compressed frame: its envelopes are in `body`, in `encoding`.
    asap::v1::BatchFrame outer;
    if (!outer.ParseFromString(bytes) || outer.encoding().empty()) return 0;
    absl::StatusOr<std::string> inner =
        asap::DecodeBody(outer.encoding(), outer.body(), kMaxBodyBytes);
    if (!inner.ok()) return 0;
    FUZZ_CHECK(inner->size() <= kMaxBodyBytes, "%zu bytes", inner->size());
    bytes = *std::move(inner);
    counts = Scan(bytes);
    if (!counts.ok()) return 0;
  }
  FUZZ_CHECK(counts->envelopes <= kMaxEnvelopes, "%lld envelopes",
             static_cast<long long>(counts->envelopes));
  asap::v1::BatchFrame frame;
  if (!frame.ParseFromString(bytes)) return 0;
  // The scan counts what the parse finds, or the server's accounting is off.
  FUZZ_CHECK(frame.envelopes_size() == counts->envelopes,
             "parsed %d envelopes, scanned %lld", frame.envelopes_size(),
             static_cast<long long>(counts->envelopes));
  for (const asap::v1::Envelope& envelope : frame.envelopes()) {
    asap::fuzz::ValidateAndDispatch(envelope);
  }
  return 0;
}
