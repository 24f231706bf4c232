#include "server/nonce_store.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

void NonceStore::SweepLocked(absl::Time now) {
  absl::erase_if(seen_, [&](const auto& entry) {
    return entry.second.at + window_ <= now;
  });
  // Sweeping once per window keeps memory at about two windows of nonces.
  next_sweep_ = now + window_;
}

absl::Status NonceStore::CheckAndRemember(const std::string& nonce,
                                          const std::string& owner,
                                          absl::Time now) {
  if (nonce.size() > options_.max_nonce_bytes) {
    return AsapError(
        ErrorCode::kInvalidNonce,
        absl::StrCat("extensions.nonce is ", nonce.size(), " bytes, at most ",
                     options_.max_nonce_bytes, " are allowed"));
  }
  absl::MutexLock lock(&mu_);
  if (now >= next_sweep_) SweepLocked(now);
  auto it = seen_.find(nonce);
  if (it != seen_.end()) {
    if (it->second.at + window_ > now) {
      if (!owner.empty() && it->second.owner == owner) {
        return absl::OkStatus();  // the same envelope, retried
      }
      return AsapError(ErrorCode::kInvalidNonce,
                       absl::StrCat("nonce '", nonce.substr(0, 64),
                                    "' was already used (replay)"));
    }
    it->second = Seen{now, owner};
    return absl::OkStatus();
  }
  if (seen_.size() >= options_.max_entries) {
    SweepLocked(now);
    if (seen_.size() >= options_.max_entries) {
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("the nonce store holds ", seen_.size(),
                       " unexpired nonces, its limit; try again later"));
    }
  }
  seen_.emplace(nonce, Seen{now, owner});
  return absl::OkStatus();
}

size_t NonceStore::size() const {
  absl::MutexLock lock(&mu_);
  return seen_.size();
}

}  // namespace asap
