#include "server/state/idempotency_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

std::string IdempotencyKey(absl::string_view sender, absl::string_view id) {
  return absl::StrCat(sender.size(), ":", sender, ":", id);
}

void InMemoryIdempotencyStore::SweepLocked(absl::Time now) {
  absl::erase_if(entries_, [&](const auto& entry) {
    if (entry.second.expires > now) return false;
    if (entry.second.done) total_bytes_ -= entry.second.value.size();
    return true;
  });
  // Sweeping at most once a second keeps a full store from sweeping on
  // every claim.
  next_sweep_ = now + std::min(window_, absl::Seconds(1));
}

absl::StatusOr<IdempotencyStore::Claim> InMemoryIdempotencyStore::TryClaim(
    const std::string& key, absl::Duration lease, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (now >= next_sweep_) SweepLocked(now);
  Claim claim;
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.expires > now) {
    if (it->second.done) {
      claim.state = ClaimState::kDone;
      claim.response = it->second.value;
    } else {
      claim.state = ClaimState::kBusy;
    }
    return claim;
  }
  if (it == entries_.end() && entries_.size() >= options_.max_entries) {
    SweepLocked(now);
    if (entries_.size() >= options_.max_entries) {
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("the idempotency store holds ", entries_.size(),
                       " unexpired entries, its limit; try again later"));
    }
  }
  Entry& entry = entries_[key];
  if (entry.done) total_bytes_ -= entry.value.size();
  entry.done = false;
  entry.value = absl::StrCat(++next_token_);
  entry.expires = now + lease;
  claim.state = ClaimState::kClaimed;
  claim.token = entry.value;
  return claim;
}

absl::Status InMemoryIdempotencyStore::Complete(const std::string& key,
                                                const std::string& token,
                                                const std::string& response,
                                                absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.done || it->second.value != token) {
    return absl::OkStatus();
  }
  if (response.size() > options_.max_response_bytes ||
      total_bytes_ + response.size() > options_.max_total_bytes) {
    entries_.erase(it);
    return AsapError(ErrorCode::kPayloadTooLarge,
                     absl::StrCat("a response of ", response.size(),
                                  " bytes is not kept by the idempotency "
                                  "store"));
  }
  it->second.done = true;
  it->second.value = response;
  it->second.expires = now + window_;
  total_bytes_ += response.size();
  return absl::OkStatus();
}

absl::Status InMemoryIdempotencyStore::Abandon(const std::string& key,
                                               const std::string& token) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.done && it->second.value == token) {
    entries_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status InMemoryIdempotencyStore::Renew(const std::string& key,
                                             const std::string& token,
                                             absl::Duration lease,
                                             absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.done || it->second.value != token ||
      it->second.expires <= now) {
    return absl::FailedPreconditionError("the claim is no longer held");
  }
  it->second.expires = now + lease;
  return absl::OkStatus();
}

size_t InMemoryIdempotencyStore::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace asap
