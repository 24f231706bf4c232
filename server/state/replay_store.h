// ReplayStore: where the server remembers envelope nonces (extensions.nonce)
// to refuse replays. One implementation per place the memory lives: in the
// process (NonceStore, server/nonce_store.h) or shared by every replica
// behind a load balancer (RedisReplayStore, server/state/redis_stores.h).
#ifndef ASAP_SERVER_STATE_REPLAY_STORE_H_
#define ASAP_SERVER_STATE_REPLAY_STORE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace asap {

// Counters of a shared store, for the server's metrics.
struct StoreStats {
  // Commands to the shared store that failed: unreachable, timed out or an
  // error reply.
  uint64_t redis_errors = 0;
  // Operations answered by a local fallback instead (fail-open stores).
  uint64_t fallbacks = 0;
};

class ReplayStore {
 public:
  virtual ~ReplayStore() = default;

  // The store's counters; zero for a store that shares nothing.
  virtual StoreStats stats() const { return {}; }

  // OK, and remembers `nonce` for the store's window, when it was not seen
  // within the window; asap:protocol/invalid_nonce for a replay or a nonce
  // that is too long; asap:transport/resource_exhausted when the store is
  // full (it never forgets a nonce early to make room: that would let a
  // replay through); asap:transport/unavailable when a shared store cannot
  // be reached and must not be bypassed. Never OK for a nonce it cannot
  // vouch for. Thread-safe.
  //
  // A non-empty `owner` is remembered with the nonce, and the same nonce
  // with the same owner is accepted again: the server passes the envelope's
  // idempotency key (sender and id), so that a client retrying an envelope
  // whose first attempt died with its replica (nonce remembered, no answer
  // stored) is not refused as its own replay. Any other envelope reusing
  // the nonce is.
  virtual absl::Status CheckAndRemember(const std::string& nonce,
                                        const std::string& owner,
                                        absl::Time now) = 0;
  // The same without an owner: any second use is a replay.
  absl::Status CheckAndRemember(const std::string& nonce, absl::Time now) {
    return CheckAndRemember(nonce, std::string(), now);
  }
};

}  // namespace asap

#endif  // ASAP_SERVER_STATE_REPLAY_STORE_H_
