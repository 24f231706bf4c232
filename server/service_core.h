// ServiceCore: what every binding (gRPC, HTTP) shares of one server: the
// manifest, the dispatcher, the memory budget, the handler threads and the
// limits. Nothing is owned; all of it outlives the bindings.
#ifndef ASAP_SERVER_SERVICE_CORE_H_
#define ASAP_SERVER_SERVICE_CORE_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "asap/v1/manifest.pb.h"
#include "asap/wire_limits.h"
#include "server/dispatcher.h"
#include "server/memory_budget.h"
#include "server/metrics.h"
#include "server/security/authenticator.h"
#include "server/worker_pool.h"

namespace asap {

// What a binding needs from the server.
struct ServiceCore {
  const v1::Manifest* manifest = nullptr;
  const EnvelopeDispatcher* dispatcher = nullptr;
  MemoryBudget* memory = nullptr;
  WorkerPool* workers = nullptr;
  // Where the binding records what it handles (server/metrics.h); null
  // records nothing.
  ServerMetrics* metrics = nullptr;
  // Who is calling (server/security/authenticator.h); null or disabled:
  // calls are not authenticated.
  const Authenticator* authenticator = nullptr;
  size_t max_message_bytes = 10 * 1024 * 1024;
  size_t compression_threshold_bytes = 1024;
  absl::Duration manifest_max_age = absl::ZeroDuration();
  EnvelopeLimits envelope_limits;
  int64_t max_envelopes_per_frame = 1000;
  int batch_frames_in_flight = 8;
  absl::Duration stream_stall_timeout = absl::Seconds(30);
};

}  // namespace asap

#endif  // ASAP_SERVER_SERVICE_CORE_H_
