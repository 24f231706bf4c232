// Bearer tokens that are signed JWTs (RFC 7519, compact JWS), verified with
// libjwt: HS256 with a shared secret, RS256 or ES256 with a PEM public key.
//
//   asap::JwtOptions options;
//   options.issuer = "https://issuer.example";
//   options.audience = "urn:asap:agent:orders";
//   ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::JwtValidator> jwt,
//                         asap::JwtValidator::FromKeyFile("jwt.pem", options));
//   absl::StatusOr<std::string> agent = jwt->Validate(bearer_token);
//   // *agent is the token's `sub`, e.g. "urn:asap:agent:alice"
//
// A token is accepted when its signature verifies with the configured key
// under exactly the configured algorithm (never "none", never HS256 with a
// public key as the secret), it is not expired (`exp`, required by default)
// and valid already (`nbf`), within the leeway, its `iss` and `aud` match
// when configured, and its `sub` is an agent URN.
#ifndef ASAP_AUTH_JWT_VALIDATOR_H_
#define ASAP_AUTH_JWT_VALIDATOR_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/auth/token_validator.h"

namespace asap {

// Longest token JwtValidator parses; longer ones are refused unread.
inline constexpr size_t kMaxJwtBytes = 8 * 1024;
// Shortest HS256 secret (256 bits, RFC 7518 section 3.2).
inline constexpr size_t kMinHs256SecretBytes = 32;

struct JwtOptions {
  enum class Algorithm { kHS256, kRS256, kES256 };
  Algorithm algorithm = Algorithm::kHS256;
  // HS256: the shared secret bytes (at least kMinHs256SecretBytes).
  // RS256: a PEM RSA public key ("BEGIN PUBLIC KEY") of at least 2048 bits.
  // ES256: a PEM EC public key on P-256.
  std::string key;
  // When non-empty, `iss` must equal it.
  std::string issuer;
  // When non-empty, `aud` must equal it or, as an array, contain it.
  std::string audience;
  // Clock skew allowed for `exp` and `nbf`.
  absl::Duration leeway = absl::Seconds(30);
  // A token without `exp` is refused.
  bool require_exp = true;
  // Verified tokens are cached, keyed by their SHA-256 digest, until their
  // `exp`; at most this many entries. 0 disables the cache.
  size_t cache_entries = 10000;
  // The clock; absl::Now when empty. Tests use a fake clock.
  std::function<absl::Time()> now;
};

// "HS256", "RS256" or "ES256".
absl::string_view JwtAlgorithmName(JwtOptions::Algorithm algorithm);

class JwtValidator : public TokenValidator {
 public:
  // InvalidArgument when the key does not fit the algorithm (an HS256 secret
  // shorter than kMinHs256SecretBytes, a PEM that is not an RSA or P-256
  // public key) or the leeway is negative.
  static absl::StatusOr<std::unique_ptr<JwtValidator>> Create(
      JwtOptions options);

  // Reads the key from `path` and takes the algorithm from it: a PEM
  // "PUBLIC KEY" is RS256 when it is an RSA key and ES256 when it is an EC
  // key; any other content is an HS256 secret, the file's bytes with one
  // trailing newline removed. A file with other PEM data (a certificate, a
  // private key) or a DER public key is refused. `options.key` is ignored;
  // `options.algorithm`, when set to kRS256 or kES256, must agree with the
  // file. InvalidArgument naming the file, never its content, otherwise.
  static absl::StatusOr<std::unique_ptr<JwtValidator>> FromKeyFile(
      const std::string& path, JwtOptions options);

  // The token's `sub`, or asap:auth/unauthenticated with the reason: no
  // token, too long, not a JWT, bad signature, wrong algorithm, expired, not
  // yet valid, wrong issuer or audience, no `sub` or one that is not an
  // agent URN.
  absl::StatusOr<std::string> Validate(absl::string_view token) const override;
  // 2 for a token of JWT form (three base64url segments), 0 otherwise.
  int Recognizes(absl::string_view token) const override;

  JwtOptions::Algorithm algorithm() const { return options_.algorithm; }

  // How many verified tokens the cache holds.
  size_t cached_tokens() const ABSL_LOCKS_EXCLUDED(cache_mutex_);

 private:
  struct CacheEntry {
    std::string agent;
    // `exp` (InfiniteFuture without one) and `nbf` (InfinitePast).
    absl::Time expires;
    absl::Time not_before;
  };

  explicit JwtValidator(JwtOptions options);

  // Why a token with these `exp` and `nbf` is not valid at `now`, or OK.
  absl::Status CheckTimes(absl::Time expires, absl::Time not_before,
                          absl::Time now) const;
  // Full verification: signature, algorithm and claims.
  absl::StatusOr<CacheEntry> Verify(const std::string& token,
                                    absl::Time now) const;
  void Remember(std::string digest, CacheEntry entry, absl::Time now) const
      ABSL_LOCKS_EXCLUDED(cache_mutex_);

  const JwtOptions options_;

  mutable absl::Mutex cache_mutex_;
  // TokenDigest(token) -> what the token verified to.
  mutable absl::flat_hash_map<std::string, CacheEntry> cache_
      ABSL_GUARDED_BY(cache_mutex_);
};

}  // namespace asap

#endif  // ASAP_AUTH_JWT_VALIDATOR_H_
