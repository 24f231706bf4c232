#include "asap/auth/token_validator.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/status/status.h"

namespace asap {
namespace {

class AnyOfValidator : public TokenValidator {
 public:
  explicit AnyOfValidator(std::vector<std::unique_ptr<TokenValidator>> all)
      : validators_(std::move(all)) {}

  absl::StatusOr<std::string> Validate(absl::string_view token) const override {
    absl::Status refusal;
    int best = -1;
    for (const std::unique_ptr<TokenValidator>& validator : validators_) {
      absl::StatusOr<std::string> agent = validator->Validate(token);
      if (agent.ok()) return agent;
      int recognized = validator->Recognizes(token);
      if (recognized > best) {
        best = recognized;
        refusal = std::move(agent).status();
      }
    }
    return refusal;
  }

 private:
  const std::vector<std::unique_ptr<TokenValidator>> validators_;
};

// SHA-256 fetched once: an implicit fetch on every digest takes a lock in the
// provider store.
const EVP_MD* Sha256() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenValidator>> AnyOfValidators(
    std::vector<std::unique_ptr<TokenValidator>> validators) {
  if (validators.empty()) {
    return absl::InvalidArgumentError("AnyOfValidators needs a validator");
  }
  for (const std::unique_ptr<TokenValidator>& validator : validators) {
    if (validator == nullptr) {
      return absl::InvalidArgumentError("AnyOfValidators got a null validator");
    }
  }
  if (validators.size() == 1) return std::move(validators.front());
  return std::make_unique<AnyOfValidator>(std::move(validators));
}

std::string TokenDigest(absl::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(token.data(), token.size(), digest, &size, Sha256(),
                 nullptr) != 1 ||
      size != kTokenDigestBytes) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace asap
