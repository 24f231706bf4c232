// Bearer-token authentication: a TokenValidator maps the token a call carries
// to the agent URN it authenticates.
//
//   ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::StaticTokenValidator> tokens,
//                         asap::StaticTokenValidator::FromFile("tokens.txt"));
//   absl::StatusOr<std::string> agent = tokens->Validate(bearer_token);
//   // *agent == "urn:asap:agent:alice", or asap:auth/unauthenticated
//
// StaticTokenValidator (static_token_validator.h) reads a file of opaque
// tokens; JwtValidator (jwt_validator.h) verifies signed JWTs; AnyOfValidators
// combines several.
#ifndef ASAP_AUTH_TOKEN_VALIDATOR_H_
#define ASAP_AUTH_TOKEN_VALIDATOR_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asap {

// Maps a bearer token to the agent URN it authenticates.
class TokenValidator {
 public:
  virtual ~TokenValidator() = default;

  // The agent URN (e.g. "urn:asap:agent:alice") the token authenticates, or
  // an error status made with asap::AsapError(ErrorCode::kUnauthenticated,
  // detail) for a missing, unknown, invalid or expired token. The detail
  // never contains the token. Thread-safe; called for every call.
  virtual absl::StatusOr<std::string> Validate(
      absl::string_view token) const = 0;

  // How surely `token` is of this validator's kind, for AnyOfValidators to
  // report the most telling refusal: a JWT validator says "expired" about a
  // JWT, where a token table could only say "unknown". 1 by default; a
  // validator that recognizes its tokens' form says 2 for them and 0 for
  // others.
  virtual int Recognizes(absl::string_view token) const { return 1; }
};

// A validator that asks each of `validators` in order: the first identity
// wins; when all of them refuse, the refusal of the one that recognizes the
// token best (TokenValidator::Recognizes; the first among equals) is
// returned (for a server that accepts both a token file and JWTs).
// InvalidArgument when `validators` is empty or holds a null pointer.
absl::StatusOr<std::unique_ptr<TokenValidator>> AnyOfValidators(
    std::vector<std::unique_ptr<TokenValidator>> validators);

inline constexpr size_t kTokenDigestBytes = 32;

// The SHA-256 digest of `token`, kTokenDigestBytes raw bytes (empty only when
// OpenSSL cannot hash, which matches no stored digest). Validators store and
// cache tokens under their digest, so a lookup never compares secret bytes
// with an early-exit comparison and no token is kept in memory.
std::string TokenDigest(absl::string_view token);

}  // namespace asap

#endif  // ASAP_AUTH_TOKEN_VALIDATOR_H_
