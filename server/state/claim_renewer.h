// ClaimRenewer: keeps the idempotency claims of running handlers alive.
//
// A claim's lease is short, so that the claims of a replica that dies (its
// process killed, its machine gone) run out soon and retries of its
// envelopes proceed on other replicas within seconds. A handler that runs
// longer than that must not lose its claim, or a retry would run it a second
// time: while a claim is held here, a background thread renews it (a third
// of the lease before it would run out). Handlers that finish within a third
// of the lease cost nothing: a claim is renewed only once it is that old.
#ifndef ASAP_SERVER_STATE_CLAIM_RENEWER_H_
#define ASAP_SERVER_STATE_CLAIM_RENEWER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/state/idempotency_store.h"

namespace asap {

class ClaimRenewer {
 public:
  // Renews claims in `store` (not owned, must outlive this) to `lease`;
  // `now` is the clock the store's claims are taken with.
  ClaimRenewer(IdempotencyStore* store, absl::Duration lease,
               std::function<absl::Time()> now);
  // Stops renewing; the claims still held run out after their lease.
  ~ClaimRenewer();
  ClaimRenewer(const ClaimRenewer&) = delete;
  ClaimRenewer& operator=(const ClaimRenewer&) = delete;

  // Renews the claim `token` on `key` (just taken) until Release(handle).
  // Thread-safe.
  uint64_t Hold(std::string key, std::string token);
  // Stops renewing the claim of `handle`. Thread-safe.
  void Release(uint64_t handle);

  // Renewals made, and renewals that found the claim gone (it ran out
  // before it could be renewed: the store was unreachable for a lease).
  uint64_t renewals() const;
  uint64_t lost() const;

 private:
  struct Held {
    std::string key;
    std::string token;
    absl::Time renew_at;
  };
  void Loop();

  IdempotencyStore* const store_;
  const absl::Duration lease_;
  const absl::Duration period_;
  const std::function<absl::Time()> now_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Held> held_ ABSL_GUARDED_BY(mu_);
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t renewals_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lost_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace asap

#endif  // ASAP_SERVER_STATE_CLAIM_RENEWER_H_
