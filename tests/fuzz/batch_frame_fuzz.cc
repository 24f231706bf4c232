// A SendBatch frame from the network, as the server takes it: compressed or
// not, bounded by the wire scan (envelopes per frame, JSON values, depth),
// parsed, and each envelope dispatched to the echo agent's handler; every
// envelope the scan counted gets a result.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/v1/service.pb.h"
#include "asap/wire_limits.h"
#include "examples/echo_agent/echo_agent.h"
#include "google/protobuf/stubs/logging.h"
#include "server/compressed_send.h"
#include "server/dispatcher.h"

// The seeds' timestamps are fixed: without the window check, mutated
// envelopes get past validation to the handler and the response checks.
static asap::ValidationOptions Validation() {
  asap::ValidationOptions options;
  options.check_timestamp_window = false;
  return options;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static auto* quiet = new google::protobuf::LogSilencer;
  (void)quiet;
  static const asap::v1::Manifest* manifest =
      new asap::v1::Manifest(asap::examples::EchoManifest("127.0.0.1:1"));
  static const asap::HandlerRegistry* handlers =
      new asap::HandlerRegistry(asap::examples::EchoHandlers());
  static const asap::EnvelopeDispatcher* dispatcher =
      new asap::EnvelopeDispatcher(manifest, handlers, Validation(), nullptr,
                                   [] { return absl::Now(); });
  constexpr size_t kLimit = 1 << 20;
  constexpr int64_t kMaxEnvelopes = 50;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<asap::WireCounts> counts =
      asap::ScanBatchFrameBytes(bytes, kMaxEnvelopes, asap::EnvelopeLimits());
  if (!counts.ok()) return 0;
  if (counts->envelopes == 0) {
    asap::v1::BatchFrame outer;
    if (!outer.ParseFromString(bytes) || outer.encoding().empty()) return 0;
    absl::StatusOr<std::string> inner =
        asap::DecodeBody(outer.encoding(), outer.body(), kLimit);
    if (!inner.ok()) return 0;
    if (inner->size() > kLimit) std::abort();
    bytes = *std::move(inner);
    counts =
        asap::ScanBatchFrameBytes(bytes, kMaxEnvelopes, asap::EnvelopeLimits());
    if (!counts.ok()) return 0;
  }
  if (counts->envelopes > kMaxEnvelopes) std::abort();
  asap::v1::BatchFrame frame;
  if (!frame.ParseFromString(bytes)) return 0;
  if (frame.envelopes_size() != counts->envelopes) std::abort();
  for (asap::v1::Envelope& envelope : *frame.mutable_envelopes()) {
    (void)dispatcher->Dispatch(std::move(envelope));
  }
  return 0;
}
