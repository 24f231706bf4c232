// A binary Envelope from the network, as the server takes it: bounded by the
// wire scan, parsed, then dispatched (defaults, validation, replay check) to
// the echo agent's handler.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/wire_limits.h"
#include "examples/echo_agent/echo_agent.h"
#include "google/protobuf/stubs/logging.h"
#include "server/dispatcher.h"
#include "server/nonce_store.h"

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
  static asap::NonceStore* nonces = new asap::NonceStore(absl::Seconds(330));
  static const asap::EnvelopeDispatcher* dispatcher =
      new asap::EnvelopeDispatcher(manifest, handlers, Validation(), nonces,
                                   [] { return absl::Now(); });
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (!asap::ScanEnvelopeBytes(bytes, asap::EnvelopeLimits()).ok()) return 0;
  asap::v1::Envelope envelope;
  if (!envelope.ParseFromArray(data, static_cast<int>(size))) return 0;
  (void)dispatcher->Dispatch(std::move(envelope));
  return 0;
}
