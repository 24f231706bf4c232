// Cost per call of the bearer-token validators: JWT verification with HS256,
// RS256 and ES256, each in full (cache off), as a cache hit and as the
// refusal of a bad signature, and the static token file's lookup.
//
//   bazel run -c opt //benchmarks:jwt_benchmark
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asap/auth/jwt_validator.h"
#include "asap/auth/static_token_validator.h"
#include "asap/auth/token_validator.h"
#include "benchmark/benchmark.h"
#include "tests/testing/jwt_minter.h"

namespace asap::bench {
namespace {

using Algorithm = JwtOptions::Algorithm;

const testing::TestKeys& Keys() {
  static const testing::TestKeys* const keys = [] {
    absl::StatusOr<testing::TestKeys> generated = testing::GenerateTestKeys();
    if (!generated.ok()) {
      std::fprintf(stderr, "GenerateTestKeys: %s\n",
                   generated.status().ToString().c_str());
      std::abort();
    }
    return new testing::TestKeys(*std::move(generated));
  }();
  return *keys;
}

void BM_JwtValidate(benchmark::State& state, Algorithm algorithm, bool cached) {
  JwtOptions options;
  options.algorithm = algorithm;
  options.key = Keys().VerifyingKey(algorithm);
  options.cache_entries = cached ? 10000 : 0;
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      JwtValidator::Create(std::move(options));
  if (!validator.ok()) {
    state.SkipWithError(validator.status().ToString().c_str());
    return;
  }
  testing::JwtClaims claims;
  claims.sub = "urn:asap:agent:alice";
  claims.iss = "https://issuer.example";
  claims.aud = "urn:asap:agent:orders";
  claims.iat = absl::ToUnixSeconds(absl::Now());
  claims.exp = *claims.iat + 3600;
  absl::StatusOr<std::string> token =
      testing::MintJwt(algorithm, Keys().SigningKey(algorithm), claims);
  if (!token.ok()) {
    state.SkipWithError(token.status().ToString().c_str());
    return;
  }
  if (!(*validator)->Validate(*token).ok()) {
    state.SkipWithError("the token does not validate");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize((*validator)->Validate(*token));
  }
  state.SetLabel(absl::StrCat(token->size(), "-byte token"));
}
BENCHMARK_CAPTURE(BM_JwtValidate, HS256_verify, Algorithm::kHS256, false);
BENCHMARK_CAPTURE(BM_JwtValidate, HS256_cached, Algorithm::kHS256, true);
BENCHMARK_CAPTURE(BM_JwtValidate, RS256_verify, Algorithm::kRS256, false);
BENCHMARK_CAPTURE(BM_JwtValidate, RS256_cached, Algorithm::kRS256, true);
BENCHMARK_CAPTURE(BM_JwtValidate, ES256_verify, Algorithm::kES256, false);
BENCHMARK_CAPTURE(BM_JwtValidate, ES256_cached, Algorithm::kES256, true);

// A token whose signature does not verify, as an unauthenticated caller can
// send at will: the cost of a refusal (never cached).
void BM_JwtRefuseBadSignature(benchmark::State& state, Algorithm algorithm) {
  JwtOptions options;
  options.algorithm = algorithm;
  options.key = Keys().VerifyingKey(algorithm);
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      JwtValidator::Create(std::move(options));
  if (!validator.ok()) {
    state.SkipWithError(validator.status().ToString().c_str());
    return;
  }
  testing::JwtClaims claims;
  claims.sub = "urn:asap:agent:mallory";
  claims.exp = absl::ToUnixSeconds(absl::Now()) + 3600;
  absl::StatusOr<std::string> token =
      testing::MintJwt(algorithm, Keys().SigningKey(algorithm), claims);
  if (!token.ok()) {
    state.SkipWithError(token.status().ToString().c_str());
    return;
  }
  char& c = (*token)[token->rfind('.') + 5];
  c = c == 'A' ? 'B' : 'A';
  if ((*validator)->Validate(*token).ok()) {
    state.SkipWithError("the tampered token validates");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize((*validator)->Validate(*token));
  }
}
BENCHMARK_CAPTURE(BM_JwtRefuseBadSignature, HS256, Algorithm::kHS256);
BENCHMARK_CAPTURE(BM_JwtRefuseBadSignature, RS256, Algorithm::kRS256);
BENCHMARK_CAPTURE(BM_JwtRefuseBadSignature, ES256, Algorithm::kES256);

// A token file of `state.range(0)` agents; one known or unknown token looked
// up.
void BM_StaticTokenValidate(benchmark::State& state, bool known) {
  std::string text;
  for (int64_t i = 0; i < state.range(0); ++i) {
    absl::StrAppend(&text, "token-", 1000000000 + i, "-abcdef urn:asap:agent:a",
                    i, "\n");
  }
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> validator =
      StaticTokenValidator::FromText(text, "tokens");
  if (!validator.ok()) {
    state.SkipWithError(validator.status().ToString().c_str());
    return;
  }
  std::string token =
      known ? "token-1000000000-abcdef" : "token-unknown-abcdef";
  for (auto _ : state) {
    benchmark::DoNotOptimize((*validator)->Validate(token));
  }
}
BENCHMARK_CAPTURE(BM_StaticTokenValidate, known, true)->Arg(10)->Arg(10000);
BENCHMARK_CAPTURE(BM_StaticTokenValidate, unknown, false)->Arg(10000);

void BM_TokenDigest(benchmark::State& state) {
  std::string token(static_cast<size_t>(state.range(0)), 't');
  for (auto _ : state) benchmark::DoNotOptimize(TokenDigest(token));
}
BENCHMARK(BM_TokenDigest)->Arg(32)->Arg(512);

}  // namespace
}  // namespace asap::bench

BENCHMARK_MAIN();
