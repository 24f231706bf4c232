#include "client/token_provider.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "asap/auth/token_validator.h"
#include "asap/errors.h"

namespace asap {
namespace {

class Static final : public TokenProvider {
 public:
  explicit Static(std::string token) : token_(std::move(token)) {}
  absl::StatusOr<std::string> Token() override { return token_; }
  bool MayBlock() const override { return false; }

 private:
  const std::string token_;
};

class Function final : public TokenProvider {
 public:
  explicit Function(std::function<absl::StatusOr<std::string>()> token)
      : token_(std::move(token)) {}
  absl::StatusOr<std::string> Token() override { return token_(); }

 private:
  const std::function<absl::StatusOr<std::string>()> token_;
};

}  // namespace

std::string TokenProvider::CacheKey() {
  absl::StatusOr<std::string> token = Token();
  if (!token.ok()) return "";
  // A prefix of the digest: enough to tell identities apart, useless to
  // recover the token.
  return absl::BytesToHexString(TokenDigest(*token)).substr(0, 16);
}

std::shared_ptr<TokenProvider> StaticToken(std::string token) {
  return std::make_shared<Static>(std::move(token));
}

std::shared_ptr<TokenProvider> TokenFunction(
    std::function<absl::StatusOr<std::string>()> token) {
  return std::make_shared<Function>(std::move(token));
}

absl::StatusOr<std::string> BearerAuthorization(TokenProvider& provider) {
  absl::StatusOr<std::string> token = provider.Token();
  if (!token.ok()) {
    return AsapError(
        ErrorCode::kUnauthenticated,
        absl::StrCat("the token provider failed: ", token.status().message()));
  }
  if (token->empty()) {
    return AsapError(ErrorCode::kUnauthenticated,
                     "the token provider gave an empty token");
  }
  for (char c : *token) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      return absl::InvalidArgumentError(
          "the bearer token holds a character a header cannot carry");
    }
  }
  return absl::StrCat("Bearer ", *token);
}

}  // namespace asap
