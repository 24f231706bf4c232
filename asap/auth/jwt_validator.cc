#include "asap/auth/jwt_validator.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "asap/status_macros.h"
#include "rapidjson/document.h"

namespace asap {
namespace {

// Largest key file read.
constexpr size_t kMaxKeyFileBytes = 1024 * 1024;
// Smallest RSA modulus accepted for RS256.
constexpr int kMinRsaBits = 2048;
// NumericDates beyond this many seconds from the epoch (about 31.7 million
// years) are malformed rather than dates.
constexpr double kMaxNumericDateSeconds = 1e15;

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }
};

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

absl::Status Refuse(absl::string_view detail) {
  return AsapError(ErrorCode::kUnauthenticated, detail);
}

jwt_alg_t LibjwtAlgorithm(JwtOptions::Algorithm algorithm) {
  switch (algorithm) {
    case JwtOptions::Algorithm::kHS256:
      return JWT_ALG_HS256;
    case JwtOptions::Algorithm::kRS256:
      return JWT_ALG_RS256;
    case JwtOptions::Algorithm::kES256:
      return JWT_ALG_ES256;
  }
  return JWT_ALG_INVAL;
}

// A PEM "PUBLIC KEY" (SubjectPublicKeyInfo); null when `pem` is not one.
PkeyPtr ReadPemPublicKey(absl::string_view pem) {
  if (pem.size() > INT_MAX) return nullptr;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  PkeyPtr key(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  ERR_clear_error();
  return key;
}

// True when `der` is a DER SubjectPublicKeyInfo.
bool IsDerPublicKey(absl::string_view der) {
  if (der.size() > LONG_MAX) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  return key != nullptr;
}

std::string CurveName(EVP_PKEY* key) {
  char name[80];
  size_t size = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &size) != 1) return "";
  return std::string(name, size);
}

// InvalidArgument unless `pem` is a public key `algorithm` can verify with.
absl::Status CheckPublicKey(JwtOptions::Algorithm algorithm,
                            absl::string_view pem) {
  absl::string_view name = JwtAlgorithmName(algorithm);
  PkeyPtr key = ReadPemPublicKey(pem);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWT key: ", name, " needs a PEM public key (BEGIN PUBLIC KEY)"));
  }
  if (algorithm == JwtOptions::Algorithm::kRS256) {
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError("JWT key: RS256 needs an RSA key");
    }
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
      return absl::InvalidArgumentError(
          absl::StrCat("JWT key: RS256 needs an RSA key of at least ",
                       kMinRsaBits, " bits"));
    }
    return absl::OkStatus();
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      CurveName(key.get()) != "prime256v1") {
    return absl::InvalidArgumentError(
        "JWT key: ES256 needs an EC key on P-256");
  }
  return absl::OkStatus();
}

// A JWS compact serialization: three base64url segments, the last (the
// signature) not empty. Checked before libjwt sees the token.
absl::Status CheckShape(absl::string_view token) {
  int dots = 0;
  size_t last_dot = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    char c = token[i];
    if (c == '.') {
      ++dots;
      last_dot = i;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
               c != '-' && c != '_') {
      return Refuse("bearer token is not a JWT");
    }
  }
  if (dots != 2) return Refuse("bearer token is not a JWT");
  if (last_dot + 1 == token.size()) return Refuse("token is not signed");
  return absl::OkStatus();
}

// A NumericDate claim (seconds since the epoch, integer or not).
std::optional<absl::Time> NumericDate(const rapidjson::Value& value) {
  if (value.IsInt64()) return absl::FromUnixSeconds(value.GetInt64());
  if (value.IsDouble()) {
    double seconds = value.GetDouble();
    if (!std::isfinite(seconds) ||
        std::fabs(seconds) > kMaxNumericDateSeconds) {
      return std::nullopt;
    }
    return absl::UnixEpoch() + absl::Seconds(seconds);
  }
  return std::nullopt;
}

absl::string_view StringOf(const rapidjson::Value& value) {
  return absl::string_view(value.GetString(), value.GetStringLength());
}

// True when `aud` is `audience` or an array of strings holding it.
bool AudienceMatches(const rapidjson::Value& aud, absl::string_view audience) {
  if (aud.IsString()) return StringOf(aud) == audience;
  if (!aud.IsArray()) return false;
  for (const rapidjson::Value& item : aud.GetArray()) {
    if (item.IsString() && StringOf(item) == audience) return true;
  }
  return false;
}

}  // namespace

absl::string_view JwtAlgorithmName(JwtOptions::Algorithm algorithm) {
  switch (algorithm) {
    case JwtOptions::Algorithm::kHS256:
      return "HS256";
    case JwtOptions::Algorithm::kRS256:
      return "RS256";
    case JwtOptions::Algorithm::kES256:
      return "ES256";
  }
  return "unknown";
}

JwtValidator::JwtValidator(JwtOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<JwtValidator>> JwtValidator::Create(
    JwtOptions options) {
  if (LibjwtAlgorithm(options.algorithm) == JWT_ALG_INVAL) {
    return absl::InvalidArgumentError("JWT algorithm is not supported");
  }
  if (options.leeway < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("JWT leeway is negative");
  }
  if (options.key.size() > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWT key is larger than ", kMaxKeyFileBytes, " bytes"));
  }
  if (options.algorithm == JwtOptions::Algorithm::kHS256) {
    if (options.key.size() < kMinHs256SecretBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("JWT key: an HS256 secret needs at least ",
                       kMinHs256SecretBytes, " bytes"));
    }
    // A public key as an HMAC secret lets anyone who has the public key sign
    // tokens.
    if (absl::StrContains(options.key, "-----BEGIN ")) {
      return absl::InvalidArgumentError(
          "JWT key: the HS256 secret is PEM data; a public key needs RS256 or "
          "ES256");
    }
  } else {
    ASAP_RETURN_IF_ERROR(CheckPublicKey(options.algorithm, options.key));
  }
  if (!options.now) options.now = &absl::Now;
  return std::unique_ptr<JwtValidator>(new JwtValidator(std::move(options)));
}

absl::StatusOr<std::unique_ptr<JwtValidator>> JwtValidator::FromKeyFile(
    const std::string& path, JwtOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWT key file: cannot read '", path, "'"));
  }
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxKeyFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("JWT key file: '", path, "' is larger than ",
                       kMaxKeyFileBytes, " bytes"));
    }
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWT key file: cannot read '", path, "'"));
  }

  JwtOptions::Algorithm detected = JwtOptions::Algorithm::kHS256;
  if (absl::StrContains(text, "-----BEGIN ")) {
    if (!absl::StrContains(text, "-----BEGIN PUBLIC KEY-----")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JWT key file: '", path,
          "' holds PEM data that is not a public key (BEGIN PUBLIC KEY); "
          "certificates and private keys are not accepted"));
    }
    PkeyPtr key = ReadPemPublicKey(text);
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JWT key file: '", path, "' holds no readable PEM public key"));
    }
    switch (EVP_PKEY_get_base_id(key.get())) {
      case EVP_PKEY_RSA:
        detected = JwtOptions::Algorithm::kRS256;
        break;
      case EVP_PKEY_EC:
        detected = JwtOptions::Algorithm::kES256;
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("JWT key file: '", path,
                         "' holds a public key that is neither RSA nor EC"));
    }
  } else {
    if (IsDerPublicKey(text)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JWT key file: '", path, "' holds a DER public key; give it as PEM"));
    }
    if (absl::EndsWith(text, "\r\n")) {
      text.resize(text.size() - 2);
    } else if (absl::EndsWith(text, "\n")) {
      text.resize(text.size() - 1);
    }
    if (text.size() < kMinHs256SecretBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JWT key file: '", path, "' holds an HS256 secret shorter than ",
          kMinHs256SecretBytes, " bytes"));
    }
  }
  if (options.algorithm != JwtOptions::Algorithm::kHS256 &&
      options.algorithm != detected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWT key file: '", path, "' holds a ", JwtAlgorithmName(detected),
        " key, but the algorithm is ", JwtAlgorithmName(options.algorithm)));
  }
  options.algorithm = detected;
  options.key = std::move(text);
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      Create(std::move(options));
  if (!validator.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWT key file '", path, "': ", validator.status().message()));
  }
  return validator;
}

absl::StatusOr<std::string> JwtValidator::Validate(
    absl::string_view token) const {
  if (token.empty()) return Refuse("no bearer token");
  if (token.size() > kMaxJwtBytes) {
    return Refuse(
        absl::StrCat("bearer token is longer than ", kMaxJwtBytes, " bytes"));
  }
  ASAP_RETURN_IF_ERROR(CheckShape(token));
  const absl::Time now = options_.now();

  std::string digest;
  if (options_.cache_entries > 0) {
    digest = TokenDigest(token);
    if (!digest.empty()) {
      absl::ReaderMutexLock lock(&cache_mutex_);
      auto it = cache_.find(digest);
      if (it != cache_.end()) {
        ASAP_RETURN_IF_ERROR(
            CheckTimes(it->second.expires, it->second.not_before, now));
        return it->second.agent;
      }
    }
  }

  ASAP_ASSIGN_OR_RETURN(CacheEntry entry, Verify(std::string(token), now));
  std::string agent = entry.agent;
  if (!digest.empty()) Remember(std::move(digest), std::move(entry), now);
  return agent;
}

size_t JwtValidator::cached_tokens() const {
  absl::ReaderMutexLock lock(&cache_mutex_);
  return cache_.size();
}

absl::Status JwtValidator::CheckTimes(absl::Time expires, absl::Time not_before,
                                      absl::Time now) const {
  if (now > expires + options_.leeway) return Refuse("token expired");
  if (now + options_.leeway < not_before) {
    return Refuse("token not yet valid");
  }
  return absl::OkStatus();
}

absl::StatusOr<JwtValidator::CacheEntry> JwtValidator::Verify(
    const std::string& token, absl::Time now) const {
  jwt_t* decoded = nullptr;
  int error =
      jwt_decode(&decoded, token.c_str(),
                 reinterpret_cast<const unsigned char*>(options_.key.data()),
                 static_cast<int>(options_.key.size()));
  JwtPtr jwt(decoded);
  if (error != 0 || jwt == nullptr) {
    // libjwt leaves OpenSSL's reasons on this thread's error queue.
    ERR_clear_error();
    return Refuse("invalid token: malformed or bad signature");
  }
  // libjwt verifies with whatever algorithm the token names; only the
  // configured one is acceptable ("none", or HS256 keyed with a public key).
  jwt_alg_t algorithm = jwt_get_alg(jwt.get());
  if (algorithm != LibjwtAlgorithm(options_.algorithm)) {
    const char* name = jwt_alg_str(algorithm);
    return Refuse(absl::StrCat(
        "token algorithm ", name != nullptr ? name : "(unknown)",
        " is not the configured ", JwtAlgorithmName(options_.algorithm)));
  }

  std::unique_ptr<char, FreeDeleter> json(
      jwt_get_grants_json(jwt.get(), nullptr));
  rapidjson::Document claims;
  if (json == nullptr || claims.Parse(json.get()).HasParseError() ||
      !claims.IsObject()) {
    return Refuse("token claims are not a JSON object");
  }

  CacheEntry entry{std::string(), absl::InfiniteFuture(), absl::InfinitePast()};
  auto exp = claims.FindMember("exp");
  if (exp == claims.MemberEnd()) {
    if (options_.require_exp) return Refuse("token has no exp");
  } else {
    std::optional<absl::Time> expires = NumericDate(exp->value);
    if (!expires) return Refuse("token exp is not a NumericDate");
    entry.expires = *expires;
  }
  auto nbf = claims.FindMember("nbf");
  if (nbf != claims.MemberEnd()) {
    std::optional<absl::Time> not_before = NumericDate(nbf->value);
    if (!not_before) return Refuse("token nbf is not a NumericDate");
    entry.not_before = *not_before;
  }
  ASAP_RETURN_IF_ERROR(CheckTimes(entry.expires, entry.not_before, now));

  if (!options_.issuer.empty()) {
    auto iss = claims.FindMember("iss");
    if (iss == claims.MemberEnd() || !iss->value.IsString() ||
        StringOf(iss->value) != options_.issuer) {
      return Refuse(absl::StrCat("token iss is not '", options_.issuer, "'"));
    }
  }
  if (!options_.audience.empty()) {
    auto aud = claims.FindMember("aud");
    if (aud == claims.MemberEnd() ||
        !AudienceMatches(aud->value, options_.audience)) {
      return Refuse(
          absl::StrCat("token aud does not name '", options_.audience, "'"));
    }
  }
  auto sub = claims.FindMember("sub");
  if (sub == claims.MemberEnd() || !sub->value.IsString()) {
    return Refuse("token has no sub");
  }
  if (!IsAgentUrn(StringOf(sub->value))) {
    return Refuse("token sub is not an agent URN");
  }
  entry.agent = std::string(StringOf(sub->value));
  return entry;
}

void JwtValidator::Remember(std::string digest, CacheEntry entry,
                            absl::Time now) const {
  absl::MutexLock lock(&cache_mutex_);
  if (cache_.size() >= options_.cache_entries && !cache_.contains(digest)) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (now > it->second.expires + options_.leeway) {
        cache_.erase(it++);
      } else {
        ++it;
      }
    }
    // Still full of live tokens: start over rather than track their age.
    if (cache_.size() >= options_.cache_entries) cache_.clear();
  }
  cache_.insert_or_assign(std::move(digest), std::move(entry));
}

int JwtValidator::Recognizes(absl::string_view token) const {
  int dots = 0;
  for (char c : token) {
    if (c == '.') ++dots;
  }
  return dots == 2 && token.size() <= kMaxJwtBytes ? 2 : 0;
}

}  // namespace asap
