#include "asap/auth/jwt_validator.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/jwt_minter.h"

namespace asap {
namespace {

using ::asap::testing::JwtClaims;
using ::asap::testing::MintJwt;
using ::asap::testing::MintUnsignedJwt;
using ::asap::testing::TestKeys;
using ::testing::HasSubstr;
using ::testing::Not;
using Algorithm = JwtOptions::Algorithm;

constexpr char kAlice[] = "urn:asap:agent:alice";
// The fake clock's start: 2027-01-15T08:00:00Z.
constexpr int64_t kNow = 1800000000;

const TestKeys& Keys() {
  static const TestKeys* const keys = [] {
    absl::StatusOr<TestKeys> generated = asap::testing::GenerateTestKeys();
    if (!generated.ok()) {
      ADD_FAILURE() << generated.status();
      return new TestKeys();
    }
    return new TestKeys(*std::move(generated));
  }();
  return *keys;
}

// A clock tests move by hand.
class FakeClock {
 public:
  absl::Time Now() const { return *now_; }
  void Advance(absl::Duration d) { *now_ += d; }
  std::function<absl::Time()> Function() const {
    return [now = now_] { return *now; };
  }

 private:
  std::shared_ptr<absl::Time> now_ =
      std::make_shared<absl::Time>(absl::FromUnixSeconds(kNow));
};

JwtClaims GoodClaims() {
  JwtClaims claims;
  claims.sub = kAlice;
  claims.iat = kNow;
  claims.exp = kNow + 3600;
  return claims;
}

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

void ExpectUnauthenticated(const absl::StatusOr<std::string>& result,
                           absl::string_view detail) {
  ASSERT_FALSE(result.ok()) << "accepted as " << *result;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr(detail));
}

class JwtValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(Keys().hs256_secret.empty()); }

  JwtOptions Options(Algorithm algorithm) {
    JwtOptions options;
    options.algorithm = algorithm;
    options.key = Keys().VerifyingKey(algorithm);
    options.now = clock_.Function();
    return options;
  }

  std::unique_ptr<JwtValidator> Make(JwtOptions options) {
    absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
        JwtValidator::Create(std::move(options));
    EXPECT_TRUE(validator.ok()) << validator.status();
    return validator.ok() ? *std::move(validator) : nullptr;
  }

  std::unique_ptr<JwtValidator> Make(Algorithm algorithm) {
    return Make(Options(algorithm));
  }

  static std::string Mint(Algorithm algorithm, const JwtClaims& claims) {
    absl::StatusOr<std::string> token =
        MintJwt(algorithm, Keys().SigningKey(algorithm), claims);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }

  static std::string Mint(const JwtClaims& claims) {
    return Mint(Algorithm::kHS256, claims);
  }

  FakeClock clock_;
};

class JwtAlgorithmTest : public JwtValidatorTest,
                         public ::testing::WithParamInterface<Algorithm> {};

INSTANTIATE_TEST_SUITE_P(Algorithms, JwtAlgorithmTest,
                         ::testing::Values(Algorithm::kHS256, Algorithm::kRS256,
                                           Algorithm::kES256),
                         [](const ::testing::TestParamInfo<Algorithm>& info) {
                           return std::string(JwtAlgorithmName(info.param));
                         });

TEST_P(JwtAlgorithmTest, AcceptsGoodTokenAndReturnsSub) {
  std::unique_ptr<JwtValidator> validator = Make(GetParam());
  ASSERT_NE(validator, nullptr);
  EXPECT_EQ(validator->algorithm(), GetParam());
  absl::StatusOr<std::string> agent =
      validator->Validate(Mint(GetParam(), GoodClaims()));
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ(*agent, kAlice);
}

TEST_P(JwtAlgorithmTest, AcceptsGoodTokenWithoutCache) {
  JwtOptions options = Options(GetParam());
  options.cache_entries = 0;
  std::unique_ptr<JwtValidator> validator = Make(std::move(options));
  ASSERT_NE(validator, nullptr);
  std::string token = Mint(GetParam(), GoodClaims());
  EXPECT_EQ(*validator->Validate(token), kAlice);
  EXPECT_EQ(*validator->Validate(token), kAlice);
  EXPECT_EQ(validator->cached_tokens(), 0u);
}

TEST_P(JwtAlgorithmTest, RefusesTokenSignedWithAnotherKey) {
  absl::StatusOr<TestKeys> other = asap::testing::GenerateTestKeys();
  ASSERT_TRUE(other.ok()) << other.status();
  std::unique_ptr<JwtValidator> validator = Make(GetParam());
  ASSERT_NE(validator, nullptr);
  absl::StatusOr<std::string> token =
      MintJwt(GetParam(), other->SigningKey(GetParam()), GoodClaims());
  ASSERT_TRUE(token.ok()) << token.status();
  ExpectUnauthenticated(validator->Validate(*token), "bad signature");
}

TEST_P(JwtAlgorithmTest, RefusesTokensOfTheOtherAlgorithms) {
  std::unique_ptr<JwtValidator> validator = Make(GetParam());
  ASSERT_NE(validator, nullptr);
  for (Algorithm other :
       {Algorithm::kHS256, Algorithm::kRS256, Algorithm::kES256}) {
    if (other == GetParam()) continue;
    absl::StatusOr<std::string> result =
        validator->Validate(Mint(other, GoodClaims()));
    ASSERT_FALSE(result.ok()) << JwtAlgorithmName(other);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  }
}

TEST_P(JwtAlgorithmTest, RefusesTamperedClaims) {
  std::unique_ptr<JwtValidator> validator = Make(GetParam());
  ASSERT_NE(validator, nullptr);
  std::vector<std::string> good =
      absl::StrSplit(Mint(GetParam(), GoodClaims()), '.');
  JwtClaims bob = GoodClaims();
  bob.sub = "urn:asap:agent:bob";
  std::vector<std::string> forged = absl::StrSplit(Mint(GetParam(), bob), '.');
  ASSERT_EQ(good.size(), 3u);
  ASSERT_EQ(forged.size(), 3u);
  // Bob's claims under Alice's signature.
  ExpectUnauthenticated(
      validator->Validate(absl::StrCat(good[0], ".", forged[1], ".", good[2])),
      "bad signature");
}

TEST_F(JwtValidatorTest, RefusesExpiredToken) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp = kNow - 31;  // the default leeway is 30 s
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "token expired");
}

TEST_F(JwtValidatorTest, AcceptsRecentlyExpiredTokenWithinLeeway) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp = kNow - 30;
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
}

TEST_F(JwtValidatorTest, LeewayIsConfigurable) {
  JwtOptions options = Options(Algorithm::kHS256);
  options.leeway = absl::ZeroDuration();
  std::unique_ptr<JwtValidator> strict = Make(std::move(options));
  ASSERT_NE(strict, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp = kNow - 1;
  ExpectUnauthenticated(strict->Validate(Mint(claims)), "token expired");
  claims.exp = kNow;
  EXPECT_EQ(*strict->Validate(Mint(claims)), kAlice);
  claims.nbf = kNow + 1;
  ExpectUnauthenticated(strict->Validate(Mint(claims)), "not yet valid");
}

TEST_F(JwtValidatorTest, RefusesTokenNotYetValid) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.nbf = kNow + 31;
  ExpectUnauthenticated(validator->Validate(Mint(claims)),
                        "token not yet valid");
  claims.nbf = kNow + 30;
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
}

TEST_F(JwtValidatorTest, RefusesTokenWithoutExpUnlessNotRequired) {
  JwtClaims claims = GoodClaims();
  claims.exp.reset();
  std::string token = Mint(claims);
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  ExpectUnauthenticated(validator->Validate(token), "token has no exp");

  JwtOptions options = Options(Algorithm::kHS256);
  options.require_exp = false;
  std::unique_ptr<JwtValidator> lenient = Make(std::move(options));
  ASSERT_NE(lenient, nullptr);
  EXPECT_EQ(*lenient->Validate(token), kAlice);
}

TEST_F(JwtValidatorTest, RefusesTimeClaimsThatAreNotNumbers) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp.reset();
  claims.extra_json = R"({"exp": "9999999999"})";
  ExpectUnauthenticated(validator->Validate(Mint(claims)),
                        "exp is not a NumericDate");

  // libjwt's jwt_get_grant_int reads a string as 0, which would pass nbf.
  claims = GoodClaims();
  claims.extra_json = R"({"nbf": "9999999999"})";
  ExpectUnauthenticated(validator->Validate(Mint(claims)),
                        "nbf is not a NumericDate");
}

TEST_F(JwtValidatorTest, AcceptsFractionalNumericDates) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp.reset();
  claims.extra_json = absl::StrCat(R"({"exp": )", kNow + 60, ".5}");
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
  claims.extra_json = absl::StrCat(R"({"exp": )", kNow - 60, ".5}");
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "token expired");
}

TEST_F(JwtValidatorTest, ChecksIssuer) {
  JwtOptions options = Options(Algorithm::kHS256);
  options.issuer = "https://issuer.example";
  std::unique_ptr<JwtValidator> validator = Make(std::move(options));
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  ExpectUnauthenticated(validator->Validate(Mint(claims)),
                        "iss is not 'https://issuer.example'");
  claims.iss = "https://evil.example";
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "iss is not");
  claims.iss = "https://issuer.example";
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
}

TEST_F(JwtValidatorTest, IgnoresIssuerWhenNotConfigured) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.iss = "https://anyone.example";
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
}

TEST_F(JwtValidatorTest, ChecksAudienceString) {
  JwtOptions options = Options(Algorithm::kHS256);
  options.audience = "urn:asap:agent:orders";
  std::unique_ptr<JwtValidator> validator = Make(std::move(options));
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  ExpectUnauthenticated(validator->Validate(Mint(claims)),
                        "aud does not name 'urn:asap:agent:orders'");
  claims.aud = "urn:asap:agent:billing";
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "aud does not name");
  claims.aud = "urn:asap:agent:orders";
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
}

TEST_F(JwtValidatorTest, ChecksAudienceArray) {
  JwtOptions options = Options(Algorithm::kHS256);
  options.audience = "urn:asap:agent:orders";
  std::unique_ptr<JwtValidator> validator = Make(std::move(options));
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.audiences = {"urn:asap:agent:billing", "urn:asap:agent:orders"};
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
  claims.audiences = {"urn:asap:agent:billing", "urn:asap:agent:order"};
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "aud does not name");
  claims.audiences.clear();
  claims.extra_json = R"({"aud": [1, ["urn:asap:agent:orders"]]})";
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "aud does not name");
}

TEST_F(JwtValidatorTest, RefusesTokenWithoutSub) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.sub.clear();
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "token has no sub");
  claims.extra_json = R"({"sub": 42})";
  ExpectUnauthenticated(validator->Validate(Mint(claims)), "token has no sub");
}

TEST_F(JwtValidatorTest, RefusesSubThatIsNotAnAgentUrn) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  for (const char* sub : {"alice", "urn:asap:task:alice", "urn:asap:agent:",
                          "urn:asap:agent:Alice", "user@example.com"}) {
    JwtClaims claims = GoodClaims();
    claims.sub = sub;
    ExpectUnauthenticated(validator->Validate(Mint(claims)),
                          "sub is not an agent URN");
  }
}

TEST_F(JwtValidatorTest, RefusesUnsignedTokens) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  absl::StatusOr<std::string> unsigned_token = MintUnsignedJwt(GoodClaims());
  ASSERT_TRUE(unsigned_token.ok()) << unsigned_token.status();
  ASSERT_EQ(unsigned_token->back(), '.');
  ExpectUnauthenticated(validator->Validate(*unsigned_token),
                        "token is not signed");
  // "alg": "none" with some signature attached.
  std::string hs256_signature =
      std::vector<std::string>(absl::StrSplit(Mint(GoodClaims()), '.'))[2];
  ExpectUnauthenticated(
      validator->Validate(absl::StrCat(*unsigned_token, hs256_signature)),
      "invalid token");
}

TEST_F(JwtValidatorTest, RefusesHs256TokenKeyedWithTheRsaPublicKey) {
  // The algorithm confusion attack: the RS256 verification key is public, so
  // an attacker can compute an HMAC with it. libjwt itself accepts this token
  // when given the PEM as key; the validator must not.
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kRS256);
  ASSERT_NE(validator, nullptr);
  absl::StatusOr<std::string> forged =
      MintJwt(Algorithm::kHS256, Keys().rsa_public_pem, GoodClaims());
  ASSERT_TRUE(forged.ok()) << forged.status();
  ExpectUnauthenticated(validator->Validate(*forged),
                        "token algorithm HS256 is not the configured RS256");
}

TEST_F(JwtValidatorTest, RefusesHs256TokenKeyedWithTheEcPublicKey) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kES256);
  ASSERT_NE(validator, nullptr);
  absl::StatusOr<std::string> forged =
      MintJwt(Algorithm::kHS256, Keys().ec_public_pem, GoodClaims());
  ASSERT_TRUE(forged.ok()) << forged.status();
  ExpectUnauthenticated(validator->Validate(*forged),
                        "token algorithm HS256 is not the configured ES256");
}

TEST_F(JwtValidatorTest, RefusesOversizedTokenBeforeParsing) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.iss = std::string(kMaxJwtBytes, 'i');
  std::string token = Mint(claims);
  ASSERT_GT(token.size(), kMaxJwtBytes);
  ExpectUnauthenticated(validator->Validate(token), "longer than 8192 bytes");

  claims.iss = std::string(kMaxJwtBytes / 2, 'i');
  EXPECT_EQ(*validator->Validate(Mint(claims)), kAlice);
}

TEST_F(JwtValidatorTest, RefusesGarbage) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  ExpectUnauthenticated(validator->Validate(""), "no bearer token");
  for (absl::string_view garbage :
       {"not-a-jwt", "a.b", "a.b.c.d", "a b.c.d", "a.b.c", "...", "e30.e30.e30",
        "eyJhbGciOiJIUzI1NiJ9.!!!.c2ln", "eyJhbGciOiJIUzI1NiJ9.e30=.c2ln"}) {
    absl::StatusOr<std::string> result = validator->Validate(garbage);
    ASSERT_FALSE(result.ok()) << garbage;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  }
  std::string good = Mint(GoodClaims());
  ExpectUnauthenticated(
      validator->Validate(absl::string_view(good.data(), good.size() - 1)),
      "bad signature");
  std::string with_nul = good;
  with_nul.insert(10, 1, '\0');
  ExpectUnauthenticated(validator->Validate(with_nul), "not a JWT");
}

TEST_F(JwtValidatorTest, RefusalsNeverContainTheTokenOrSecret) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp = kNow - 3600;
  std::string token = Mint(claims);
  absl::StatusOr<std::string> result = validator->Validate(token);
  ASSERT_FALSE(result.ok());
  for (absl::string_view part : absl::StrSplit(token, '.')) {
    EXPECT_THAT(result.status().message(), Not(HasSubstr(part)));
  }
  EXPECT_THAT(result.status().message(), Not(HasSubstr(Keys().hs256_secret)));
}

TEST_F(JwtValidatorTest, CachedTokenKeepsItsIdentityUntilItExpires) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kRS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp = kNow + 60;
  std::string token = Mint(Algorithm::kRS256, claims);
  EXPECT_EQ(*validator->Validate(token), kAlice);
  EXPECT_EQ(validator->cached_tokens(), 1u);
  EXPECT_EQ(*validator->Validate(token), kAlice);
  EXPECT_EQ(validator->cached_tokens(), 1u);

  clock_.Advance(absl::Seconds(60 + 30));  // exp + leeway: still valid
  EXPECT_EQ(*validator->Validate(token), kAlice);
  clock_.Advance(absl::Seconds(1));
  ExpectUnauthenticated(validator->Validate(token), "token expired");
  ExpectUnauthenticated(validator->Validate(token), "token expired");
}

TEST_F(JwtValidatorTest, CacheOnlyHoldsVerifiedTokens) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kHS256);
  ASSERT_NE(validator, nullptr);
  JwtClaims claims = GoodClaims();
  claims.exp = kNow - 3600;
  EXPECT_FALSE(validator->Validate(Mint(claims)).ok());
  EXPECT_FALSE(validator->Validate(Mint(Algorithm::kRS256, GoodClaims())).ok());
  EXPECT_EQ(validator->cached_tokens(), 0u);
}

TEST_F(JwtValidatorTest, CacheIsBounded) {
  JwtOptions options = Options(Algorithm::kHS256);
  options.cache_entries = 3;
  std::unique_ptr<JwtValidator> validator = Make(std::move(options));
  ASSERT_NE(validator, nullptr);
  std::vector<std::string> tokens;
  for (int i = 0; i < 10; ++i) {
    JwtClaims claims = GoodClaims();
    claims.sub = absl::StrCat("urn:asap:agent:a", i);
    claims.exp = kNow + 10 + i * 100;
    tokens.push_back(Mint(claims));
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(*validator->Validate(tokens[i]),
              absl::StrCat("urn:asap:agent:a", i));
    EXPECT_LE(validator->cached_tokens(), 3u);
  }
  // Expired entries make room first: after the first token expires, a new
  // one is added without dropping live ones.
  validator = Make([&] {
    JwtOptions o = Options(Algorithm::kHS256);
    o.cache_entries = 3;
    return o;
  }());
  ASSERT_NE(validator, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(validator->Validate(tokens[i]).ok());
  EXPECT_EQ(validator->cached_tokens(), 3u);
  clock_.Advance(absl::Seconds(10 + 31));  // tokens[0] expires
  ASSERT_TRUE(validator->Validate(tokens[3]).ok());
  EXPECT_EQ(validator->cached_tokens(), 3u);
}

TEST_F(JwtValidatorTest, ConcurrentValidationsAgree) {
  std::unique_ptr<JwtValidator> validator = Make(Algorithm::kES256);
  ASSERT_NE(validator, nullptr);
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    JwtClaims claims = GoodClaims();
    claims.sub = absl::StrCat("urn:asap:agent:t", i);
    tokens.push_back(Mint(Algorithm::kES256, claims));
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        int which = (t + i) % 4;
        absl::StatusOr<std::string> agent = validator->Validate(tokens[which]);
        if (!agent.ok() || *agent != absl::StrCat("urn:asap:agent:t", which)) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
}

TEST_F(JwtValidatorTest, CreateRefusesKeysThatDoNotFitTheAlgorithm) {
  auto create = [&](Algorithm algorithm, std::string key) {
    JwtOptions options = Options(algorithm);
    options.key = std::move(key);
    return JwtValidator::Create(std::move(options)).status();
  };
  EXPECT_THAT(create(Algorithm::kHS256, std::string(31, 'k')).message(),
              HasSubstr("at least 32 bytes"));
  EXPECT_THAT(create(Algorithm::kHS256, Keys().rsa_public_pem).message(),
              HasSubstr("PEM"));
  EXPECT_THAT(create(Algorithm::kRS256, Keys().ec_public_pem).message(),
              HasSubstr("RS256 needs an RSA key"));
  EXPECT_THAT(create(Algorithm::kES256, Keys().rsa_public_pem).message(),
              HasSubstr("ES256 needs an EC key on P-256"));
  EXPECT_THAT(create(Algorithm::kRS256, Keys().rsa_private_pem).message(),
              HasSubstr("PEM public key"));
  EXPECT_THAT(create(Algorithm::kRS256, "not a key").message(),
              HasSubstr("PEM public key"));
  for (Algorithm algorithm :
       {Algorithm::kHS256, Algorithm::kRS256, Algorithm::kES256}) {
    EXPECT_EQ(create(algorithm, "").code(), absl::StatusCode::kInvalidArgument);
  }
  JwtOptions options = Options(Algorithm::kHS256);
  options.leeway = absl::Seconds(-1);
  EXPECT_EQ(JwtValidator::Create(std::move(options)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtValidatorTest, FromKeyFileDetectsRsaPublicKey) {
  std::string path = WriteFile("rsa_public.pem", Keys().rsa_public_pem);
  JwtOptions options;
  options.now = clock_.Function();
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      JwtValidator::FromKeyFile(path, std::move(options));
  ASSERT_TRUE(validator.ok()) << validator.status();
  EXPECT_EQ((*validator)->algorithm(), Algorithm::kRS256);
  EXPECT_EQ(*(*validator)->Validate(Mint(Algorithm::kRS256, GoodClaims())),
            kAlice);
}

TEST_F(JwtValidatorTest, FromKeyFileDetectsEcPublicKey) {
  std::string path = WriteFile("ec_public.pem", Keys().ec_public_pem);
  JwtOptions options;
  options.now = clock_.Function();
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      JwtValidator::FromKeyFile(path, std::move(options));
  ASSERT_TRUE(validator.ok()) << validator.status();
  EXPECT_EQ((*validator)->algorithm(), Algorithm::kES256);
  EXPECT_EQ(*(*validator)->Validate(Mint(Algorithm::kES256, GoodClaims())),
            kAlice);
}

TEST_F(JwtValidatorTest, FromKeyFileReadsHmacSecretWithoutTrailingNewline) {
  std::string path = WriteFile("hmac.key", Keys().hs256_secret + "\n");
  JwtOptions options;
  options.now = clock_.Function();
  options.issuer = "issuer";
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      JwtValidator::FromKeyFile(path, std::move(options));
  ASSERT_TRUE(validator.ok()) << validator.status();
  EXPECT_EQ((*validator)->algorithm(), Algorithm::kHS256);
  JwtClaims claims = GoodClaims();
  claims.iss = "issuer";
  EXPECT_EQ(*(*validator)->Validate(Mint(claims)), kAlice);
  claims.iss.clear();
  ExpectUnauthenticated((*validator)->Validate(Mint(claims)), "iss is not");
}

TEST_F(JwtValidatorTest, FromKeyFileRefusesShortSecretWithoutEchoingIt) {
  std::string secret = "too-short-secret-31-bytes-long!";
  ASSERT_EQ(secret.size(), 31u);
  std::string path = WriteFile("short.key", secret + "\n");
  absl::Status status = JwtValidator::FromKeyFile(path, JwtOptions()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("shorter than 32 bytes"));
  EXPECT_THAT(status.message(), Not(HasSubstr(secret)));
}

TEST_F(JwtValidatorTest, FromKeyFileRefusesPrivateKeysAndOtherPem) {
  for (const std::string& pem :
       {Keys().rsa_private_pem, Keys().ec_private_pem,
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n"
                    "-----END CERTIFICATE-----\n")}) {
    std::string path = WriteFile("not_public.pem", pem);
    absl::Status status =
        JwtValidator::FromKeyFile(path, JwtOptions()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("not a public key"));
  }
  std::string path =
      WriteFile("broken.pem",
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  EXPECT_THAT(JwtValidator::FromKeyFile(path, JwtOptions()).status().message(),
              HasSubstr("no readable PEM public key"));
}

TEST_F(JwtValidatorTest, FromKeyFileRefusesDerPublicKey) {
  BIO* bio = BIO_new_mem_buf(Keys().rsa_public_pem.data(),
                             static_cast<int>(Keys().rsa_public_pem.size()));
  ASSERT_NE(bio, nullptr);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  int size = i2d_PUBKEY(key, &der);
  EVP_PKEY_free(key);
  ASSERT_GT(size, 0);
  std::string path = WriteFile("rsa_public.der",
                               std::string(reinterpret_cast<char*>(der), size));
  OPENSSL_free(der);
  absl::Status status = JwtValidator::FromKeyFile(path, JwtOptions()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("DER public key"));
}

TEST_F(JwtValidatorTest, FromKeyFileRefusesAlgorithmDisagreeingWithKey) {
  std::string path = WriteFile("ec_public2.pem", Keys().ec_public_pem);
  JwtOptions options;
  options.algorithm = Algorithm::kRS256;
  absl::Status status =
      JwtValidator::FromKeyFile(path, std::move(options)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("holds a ES256 key, but the algorithm is RS256"));

  // An RSA deployment whose key file is not a PEM public key must not fall
  // back to an HMAC secret.
  std::string secret_path = WriteFile("hmac2.key", Keys().hs256_secret);
  options = JwtOptions();
  options.algorithm = Algorithm::kRS256;
  EXPECT_EQ(JwtValidator::FromKeyFile(secret_path, std::move(options))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtValidatorTest, FromKeyFileRefusesMissingFile) {
  absl::Status status = JwtValidator::FromKeyFile(
                            ::testing::TempDir() + "no_such.pem", JwtOptions())
                            .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("cannot read"));
}

}  // namespace
}  // namespace asap
