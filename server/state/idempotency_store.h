// IdempotencyStore: envelope id -> the response the handler gave for it, so
// that a client retrying an envelope (same sender, same id) gets the first
// answer again instead of running the handler twice, on whichever replica
// the retry lands.
//
// The protocol is a claim with a lease:
//   Claim(key, lease)   -> kClaimed: the caller runs the handler, then calls
//                          Complete (cache the response) or Abandon (let a
//                          retry run the handler again);
//                       -> kDone: the response bytes of an earlier run;
//                          answer with them and do not run the handler;
//                       -> kBusy: another call holds the claim; wait and
//                          claim again (EnvelopeDispatcher polls until the
//                          call's deadline, then answers
//                          asap:transport/unavailable).
// A claim whose holder dies expires after its lease, so a crashed replica
// delays retries of its envelopes by at most the lease. A completed response
// is kept for the store's window (the envelope timestamp window: an
// envelope older than that is refused by validation anyway).
//
// Keys come from IdempotencyKey(sender, id): one agent cannot claim or read
// another agent's ids.
#ifndef ASAP_SERVER_STATE_IDEMPOTENCY_STORE_H_
#define ASAP_SERVER_STATE_IDEMPOTENCY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/state/replay_store.h"

namespace asap {

// The store key of an envelope: its sender's length, the sender and the id,
// so that no (sender, id) pair can spell another pair's key ("a:b" + "c"
// and "a" + "b:c" differ).
std::string IdempotencyKey(absl::string_view sender, absl::string_view id);

class IdempotencyStore {
 public:
  enum class ClaimState { kClaimed, kDone, kBusy };

  // The store's counters; zero for a store that shares nothing.
  virtual StoreStats stats() const { return {}; }
  struct Claim {
    ClaimState state = ClaimState::kBusy;
    // kClaimed: the claim's token, for Complete and Abandon.
    std::string token;
    // kDone: the serialized response envelope.
    std::string response;
  };

  virtual ~IdempotencyStore() = default;

  // Claims `key` for `lease` (see above). Errors:
  // asap:transport/resource_exhausted when the store is full,
  // asap:transport/unavailable when a shared store cannot be reached.
  // Thread-safe.
  virtual absl::StatusOr<Claim> TryClaim(const std::string& key,
                                         absl::Duration lease,
                                         absl::Time now) = 0;

  // Replaces the claim `token` on `key` by `response`, kept for the window.
  // A claim that is no longer held (its lease ran out) is left alone.
  // asap:transport/payload_too_large (and the claim released) when
  // `response` is bigger than the store keeps. Thread-safe.
  virtual absl::Status Complete(const std::string& key,
                                const std::string& token,
                                const std::string& response,
                                absl::Time now) = 0;

  // Releases the claim `token` on `key` without a response: the next claim
  // runs the handler. Thread-safe.
  virtual absl::Status Abandon(const std::string& key,
                               const std::string& token) = 0;

  // Extends the claim `token` on `key` to `lease` from now, while its
  // handler still runs. FailedPrecondition when the claim is no longer held
  // (it ran out, or was completed or abandoned). Thread-safe.
  virtual absl::Status Renew(const std::string& key, const std::string& token,
                             absl::Duration lease, absl::Time now) = 0;
};

struct InMemoryIdempotencyOptions {
  // Claims and responses held at most. Past it a new claim is refused
  // (resource_exhausted) rather than an unexpired response forgotten.
  size_t max_entries = 100000;
  // Largest response kept; a bigger one is not cached.
  size_t max_response_bytes = 10 * 1024 * 1024;
  // Bytes of responses held at most, all together.
  size_t max_total_bytes = 256u << 20;
};

// The store of one process: exactly-once across retries to the same
// replica only.
class InMemoryIdempotencyStore final : public IdempotencyStore {
 public:
  explicit InMemoryIdempotencyStore(absl::Duration window,
                                    InMemoryIdempotencyOptions options = {})
      : window_(window), options_(options) {}

  absl::StatusOr<Claim> TryClaim(const std::string& key, absl::Duration lease,
                                 absl::Time now) override;
  absl::Status Complete(const std::string& key, const std::string& token,
                        const std::string& response, absl::Time now) override;
  absl::Status Abandon(const std::string& key,
                       const std::string& token) override;
  absl::Status Renew(const std::string& key, const std::string& token,
                     absl::Duration lease, absl::Time now) override;

  // Entries (claims and responses) held, expired ones not yet swept
  // included.
  size_t size() const;

 private:
  struct Entry {
    bool done = false;
    // The claim's token, or the response when done.
    std::string value;
    absl::Time expires;
  };
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration window_;
  const InMemoryIdempotencyOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  size_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace asap

#endif  // ASAP_SERVER_STATE_IDEMPOTENCY_STORE_H_
