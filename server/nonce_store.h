// NonceStore: remembers envelope nonces (extensions.nonce) to refuse replays.
#ifndef ASAP_SERVER_NONCE_STORE_H_
#define ASAP_SERVER_NONCE_STORE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace asap {

class NonceStore {
 public:
  // Nonces are remembered for `window`: an envelope older than the validation
  // window is rejected anyway, so a nonce need not be kept longer.
  explicit NonceStore(absl::Duration window) : window_(window) {}

  // OK and remembers `nonce` when it was not seen within the window; otherwise
  // asap:protocol/invalid_nonce. Thread-safe.
  absl::Status CheckAndRemember(const std::string& nonce, absl::Time now);

 private:
  const absl::Duration window_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
  absl::Time next_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace asap

#endif  // ASAP_SERVER_NONCE_STORE_H_
