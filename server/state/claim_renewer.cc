#include "server/state/claim_renewer.h"

#include <utility>
#include <vector>

namespace asap {

ClaimRenewer::ClaimRenewer(IdempotencyStore* store, absl::Duration lease,
                           std::function<absl::Time()> now)
    : store_(store),
      lease_(lease),
      period_(lease / 3),
      now_(std::move(now)),
      thread_([this] { Loop(); }) {}

ClaimRenewer::~ClaimRenewer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

uint64_t ClaimRenewer::Hold(std::string key, std::string token) {
  absl::Time renew_at = now_() + period_;
  absl::MutexLock lock(&mu_);
  uint64_t handle = next_handle_++;
  held_.emplace(handle, Held{std::move(key), std::move(token), renew_at});
  return handle;
}

void ClaimRenewer::Release(uint64_t handle) {
  absl::MutexLock lock(&mu_);
  held_.erase(handle);
}

uint64_t ClaimRenewer::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

uint64_t ClaimRenewer::lost() const {
  absl::MutexLock lock(&mu_);
  return lost_;
}

void ClaimRenewer::Loop() {
  struct Due {
    uint64_t handle;
    std::string key;
    std::string token;
  };
  absl::MutexLock lock(&mu_);
  while (true) {
    // Wakes every period to look for claims a period old, or to stop.
    mu_.AwaitWithTimeout(absl::Condition(&stop_), period_);
    if (stop_) return;
    absl::Time now = now_();
    std::vector<Due> due;
    for (const auto& [handle, held] : held_) {
      if (held.renew_at <= now) due.push_back({handle, held.key, held.token});
    }
    if (due.empty()) continue;
    // The store may be remote: renew without the lock, so that Hold and
    // Release never wait for it.
    mu_.Unlock();
    std::vector<std::pair<uint64_t, absl::Status>> results;
    results.reserve(due.size());
    for (const Due& d : due) {
      results.emplace_back(d.handle,
                           store_->Renew(d.key, d.token, lease_, now_()));
    }
    mu_.Lock();
    for (const auto& [handle, status] : results) {
      auto it = held_.find(handle);
      if (it == held_.end()) continue;  // released meanwhile
      if (status.ok()) {
        ++renewals_;
        it->second.renew_at = now + period_;
      } else if (absl::IsFailedPrecondition(status)) {
        ++lost_;
        held_.erase(it);  // nothing left to renew
      }
      // Otherwise the store is unreachable: try again next period.
    }
  }
}

}  // namespace asap
