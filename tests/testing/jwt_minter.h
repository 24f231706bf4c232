// Keys and signed JWTs for tests and benchmarks of the bearer-token
// validators, made at run time (no key is ever committed).
//
//   absl::StatusOr<asap::testing::TestKeys> keys =
//       asap::testing::GenerateTestKeys();
//   asap::testing::JwtClaims claims;
//   claims.sub = "urn:asap:agent:alice";
//   claims.exp = absl::ToUnixSeconds(absl::Now()) + 3600;
//   absl::StatusOr<std::string> token = asap::testing::MintJwt(
//       asap::JwtOptions::Algorithm::kRS256, keys->rsa_private_pem, claims);
#ifndef ASAP_TESTS_TESTING_JWT_MINTER_H_
#define ASAP_TESTS_TESTING_JWT_MINTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asap/auth/jwt_validator.h"

namespace asap::testing {

struct TestKeys {
  // 64 random hex characters.
  std::string hs256_secret;
  // RSA 2048: PKCS#8 private key and SubjectPublicKeyInfo, PEM.
  std::string rsa_private_pem;
  std::string rsa_public_pem;
  // EC P-256, the same forms.
  std::string ec_private_pem;
  std::string ec_public_pem;

  // What signs tokens for `algorithm`: the secret or the private key.
  const std::string& SigningKey(JwtOptions::Algorithm algorithm) const;
  // What verifies them (JwtOptions::key): the secret or the public key.
  const std::string& VerifyingKey(JwtOptions::Algorithm algorithm) const;
};

// Fresh keys, in memory. RSA key generation takes tens of milliseconds.
absl::StatusOr<TestKeys> GenerateTestKeys();

// The claims of a minted token; empty strings and nullopt are left out.
struct JwtClaims {
  std::string sub;
  std::string iss;
  std::string aud;
  // When not empty, `aud` is this array (and `aud` above must be empty).
  std::vector<std::string> audiences;
  std::optional<int64_t> exp;
  std::optional<int64_t> nbf;
  std::optional<int64_t> iat;
  // A JSON object of further claims, for claims of unusual types
  // (R"({"nbf": "soon"})"); it must not repeat a claim set above.
  std::string extra_json;
};

// A compact JWS of `claims` signed with `private_key_or_secret` under
// `algorithm` (HS256: the secret bytes; RS256, ES256: a PEM private key).
absl::StatusOr<std::string> MintJwt(JwtOptions::Algorithm algorithm,
                                    const std::string& private_key_or_secret,
                                    const JwtClaims& claims);

// An unsigned token ("alg": "none", empty signature) of `claims`.
absl::StatusOr<std::string> MintUnsignedJwt(const JwtClaims& claims);

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_JWT_MINTER_H_
