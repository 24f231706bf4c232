#include "server/nonce_store.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

absl::Status NonceStore::CheckAndRemember(const std::string& nonce,
                                          absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (now >= next_sweep_) {
    // Sweeping once per window keeps memory at about two windows of nonces.
    absl::erase_if(seen_, [&](const auto& entry) {
      return entry.second + window_ <= now;
    });
    next_sweep_ = now + window_;
  }
  auto [it, inserted] = seen_.emplace(nonce, now);
  if (!inserted) {
    if (it->second + window_ > now) {
      return AsapError(ErrorCode::kInvalidNonce,
                       absl::StrCat("nonce '", nonce.substr(0, 64),
                                    "' was already used (replay)"));
    }
    it->second = now;
  }
  return absl::OkStatus();
}

}  // namespace asap
