// NonceStore: remembers envelope nonces (extensions.nonce) to refuse replays.
//
// The store is bounded: a nonce longer than `max_nonce_bytes` is refused
// (asap:protocol/invalid_nonce), and when `max_entries` unexpired nonces are
// held a new one is refused with asap:transport/resource_exhausted rather
// than the store growing or forgetting nonces early (forgetting would let a
// replay through; refusing only delays callers until entries expire).
#ifndef ASAP_SERVER_NONCE_STORE_H_
#define ASAP_SERVER_NONCE_STORE_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/state/replay_store.h"

namespace asap {

struct NonceStoreOptions {
  // Longest nonce accepted. A 128-bit random nonce is 22-36 characters in
  // the usual encodings; 128 leaves room for prefixes.
  size_t max_nonce_bytes = 128;
  // Unexpired nonces held at most: about 40 MB at the longest nonces, and
  // over 600 envelopes a second for the whole 330 s window.
  size_t max_entries = 200000;
};

// The in-memory ReplayStore: the nonces of one process.
class NonceStore final : public ReplayStore {
 public:
  // Nonces are remembered for `window`: an envelope older than the validation
  // window is rejected anyway, so a nonce need not be kept longer.
  explicit NonceStore(absl::Duration window, NonceStoreOptions options = {})
      : window_(window), options_(options) {}

  // OK and remembers `nonce` when it was not seen within the window (or was
  // seen with the same non-empty `owner`); asap:protocol/invalid_nonce for a
  // replay or a nonce that is too long; asap:transport/resource_exhausted
  // when the store is full. Thread-safe.
  using ReplayStore::CheckAndRemember;
  absl::Status CheckAndRemember(const std::string& nonce,
                                const std::string& owner,
                                absl::Time now) override;

  size_t size() const;

 private:
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration window_;
  const NonceStoreOptions options_;
  mutable absl::Mutex mu_;
  struct Seen {
    absl::Time at;
    std::string owner;
  };
  absl::flat_hash_map<std::string, Seen> seen_ ABSL_GUARDED_BY(mu_);
  absl::Time next_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace asap

#endif  // ASAP_SERVER_NONCE_STORE_H_
