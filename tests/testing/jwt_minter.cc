#include "tests/testing/jwt_minter.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "asap/json_escape.h"

namespace asap::testing {
namespace {

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::Status OpenSslError(absl::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  char reason[256] = "";
  if (code != 0) ERR_error_string_n(code, reason, sizeof(reason));
  return absl::InternalError(absl::StrCat(what, ": ", reason));
}

absl::StatusOr<std::string> Pem(EVP_PKEY* key, bool private_key) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslError("BIO_new");
  int ok = private_key ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr,
                                                  nullptr, 0, nullptr, nullptr)
                       : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) return OpenSslError("PEM_write_bio");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Status AddClaims(jwt_t* jwt, const JwtClaims& claims) {
  if (!claims.aud.empty() && !claims.audiences.empty()) {
    return absl::InvalidArgumentError("set aud or audiences, not both");
  }
  int error = 0;
  auto add = [&](const char* name, const std::string& value) {
    if (error == 0 && !value.empty()) {
      error = jwt_add_grant(jwt, name, value.c_str());
    }
  };
  auto add_int = [&](const char* name, const std::optional<int64_t>& value) {
    if (error == 0 && value.has_value()) {
      error = jwt_add_grant_int(jwt, name, static_cast<long>(*value));
    }
  };
  add("sub", claims.sub);
  add("iss", claims.iss);
  add("aud", claims.aud);
  add_int("exp", claims.exp);
  add_int("nbf", claims.nbf);
  add_int("iat", claims.iat);
  if (error == 0 && !claims.audiences.empty()) {
    std::string json = "{\"aud\":[";
    for (size_t i = 0; i < claims.audiences.size(); ++i) {
      if (i > 0) json.push_back(',');
      AppendJsonString(claims.audiences[i], JsonEscaping::kMinimal, &json);
    }
    json += "]}";
    error = jwt_add_grants_json(jwt, json.c_str());
  }
  if (error == 0 && !claims.extra_json.empty()) {
    error = jwt_add_grants_json(jwt, claims.extra_json.c_str());
  }
  if (error != 0) return absl::InternalError("jwt_add_grant failed");
  return absl::OkStatus();
}

absl::StatusOr<std::string> Encode(jwt_alg_t algorithm, const std::string& key,
                                   const JwtClaims& claims) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  std::unique_ptr<jwt_t, JwtDeleter> jwt(raw);
  if (absl::Status status = AddClaims(jwt.get(), claims); !status.ok()) {
    return status;
  }
  int error =
      algorithm == JWT_ALG_NONE
          ? jwt_set_alg(jwt.get(), JWT_ALG_NONE, nullptr, 0)
          : jwt_set_alg(jwt.get(), algorithm,
                        reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size()));
  if (error != 0) return absl::InternalError("jwt_set_alg failed");
  std::unique_ptr<char, FreeDeleter> token(jwt_encode_str(jwt.get()));
  if (token == nullptr) {
    ERR_clear_error();
    return absl::InternalError("jwt_encode_str failed");
  }
  return std::string(token.get());
}

}  // namespace

const std::string& TestKeys::SigningKey(JwtOptions::Algorithm algorithm) const {
  switch (algorithm) {
    case JwtOptions::Algorithm::kRS256:
      return rsa_private_pem;
    case JwtOptions::Algorithm::kES256:
      return ec_private_pem;
    case JwtOptions::Algorithm::kHS256:
      break;
  }
  return hs256_secret;
}

const std::string& TestKeys::VerifyingKey(
    JwtOptions::Algorithm algorithm) const {
  switch (algorithm) {
    case JwtOptions::Algorithm::kRS256:
      return rsa_public_pem;
    case JwtOptions::Algorithm::kES256:
      return ec_public_pem;
    case JwtOptions::Algorithm::kHS256:
      break;
  }
  return hs256_secret;
}

absl::StatusOr<TestKeys> GenerateTestKeys() {
  TestKeys keys;
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof(secret)) != 1) {
    return OpenSslError("RAND_bytes");
  }
  keys.hs256_secret = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(secret), sizeof(secret)));

  PkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  if (rsa == nullptr) return OpenSslError("RSA key generation");
  PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (ec == nullptr) return OpenSslError("EC key generation");
  for (auto [key, private_pem, public_pem] :
       {std::make_tuple(rsa.get(), &keys.rsa_private_pem, &keys.rsa_public_pem),
        std::make_tuple(ec.get(), &keys.ec_private_pem, &keys.ec_public_pem)}) {
    absl::StatusOr<std::string> private_text = Pem(key, /*private_key=*/true);
    if (!private_text.ok()) return private_text.status();
    absl::StatusOr<std::string> public_text = Pem(key, /*private_key=*/false);
    if (!public_text.ok()) return public_text.status();
    *private_pem = *std::move(private_text);
    *public_pem = *std::move(public_text);
  }
  return keys;
}

absl::StatusOr<std::string> MintJwt(JwtOptions::Algorithm algorithm,
                                    const std::string& private_key_or_secret,
                                    const JwtClaims& claims) {
  if (private_key_or_secret.empty()) {
    return absl::InvalidArgumentError("MintJwt needs a key");
  }
  jwt_alg_t alg = JWT_ALG_HS256;
  switch (algorithm) {
    case JwtOptions::Algorithm::kHS256:
      alg = JWT_ALG_HS256;
      break;
    case JwtOptions::Algorithm::kRS256:
      alg = JWT_ALG_RS256;
      break;
    case JwtOptions::Algorithm::kES256:
      alg = JWT_ALG_ES256;
      break;
  }
  return Encode(alg, private_key_or_secret, claims);
}

absl::StatusOr<std::string> MintUnsignedJwt(const JwtClaims& claims) {
  return Encode(JWT_ALG_NONE, std::string(), claims);
}

}  // namespace asap::testing
