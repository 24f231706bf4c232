#include "asap/auth/token_validator.h"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asap/auth/jwt_validator.h"
#include "asap/auth/static_token_validator.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/jwt_minter.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

// Accepts one token; counts the calls it gets.
class OneTokenValidator : public TokenValidator {
 public:
  OneTokenValidator(std::string token, std::string agent, std::string refusal,
                    std::atomic<int>* calls)
      : token_(std::move(token)),
        agent_(std::move(agent)),
        refusal_(std::move(refusal)),
        calls_(calls) {}

  absl::StatusOr<std::string> Validate(absl::string_view token) const override {
    ++*calls_;
    if (token == token_) return agent_;
    return AsapError(ErrorCode::kUnauthenticated, refusal_);
  }

 private:
  const std::string token_;
  const std::string agent_;
  const std::string refusal_;
  std::atomic<int>* const calls_;
};

class AnyOfValidatorsTest : public ::testing::Test {
 protected:
  std::unique_ptr<TokenValidator> Both() {
    std::vector<std::unique_ptr<TokenValidator>> validators;
    validators.push_back(std::make_unique<OneTokenValidator>(
        "token-a", "urn:asap:agent:a", "first refuses", &first_calls_));
    validators.push_back(std::make_unique<OneTokenValidator>(
        "token-b", "urn:asap:agent:b", "second refuses", &second_calls_));
    absl::StatusOr<std::unique_ptr<TokenValidator>> any =
        AnyOfValidators(std::move(validators));
    EXPECT_TRUE(any.ok()) << any.status();
    return any.ok() ? *std::move(any) : nullptr;
  }

  std::atomic<int> first_calls_{0};
  std::atomic<int> second_calls_{0};
};

TEST_F(AnyOfValidatorsTest, FirstSuccessWinsWithoutAskingTheRest) {
  std::unique_ptr<TokenValidator> any = Both();
  ASSERT_NE(any, nullptr);
  EXPECT_EQ(*any->Validate("token-a"), "urn:asap:agent:a");
  EXPECT_EQ(first_calls_, 1);
  EXPECT_EQ(second_calls_, 0);
}

TEST_F(AnyOfValidatorsTest, LaterValidatorsAreAskedInOrder) {
  std::unique_ptr<TokenValidator> any = Both();
  ASSERT_NE(any, nullptr);
  EXPECT_EQ(*any->Validate("token-b"), "urn:asap:agent:b");
  EXPECT_EQ(first_calls_, 1);
  EXPECT_EQ(second_calls_, 1);
}

TEST_F(AnyOfValidatorsTest, ReturnsTheFirstRefusalWhenAllRefuse) {
  std::unique_ptr<TokenValidator> any = Both();
  ASSERT_NE(any, nullptr);
  absl::StatusOr<std::string> result = any->Validate("token-c");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr("first refuses"));
  EXPECT_EQ(second_calls_, 1);
}

TEST(AnyOfValidatorsArgumentsTest, RefusesEmptyListAndNull) {
  EXPECT_EQ(AnyOfValidators({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::unique_ptr<TokenValidator>> with_null;
  with_null.push_back(nullptr);
  EXPECT_EQ(AnyOfValidators(std::move(with_null)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AnyOfValidatorsArgumentsTest, CombinesTokenFileAndJwt) {
  absl::StatusOr<testing::TestKeys> keys = testing::GenerateTestKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> tokens =
      StaticTokenValidator::FromText(
          "static-token-0123456789 urn:asap:agent:alice\n", "tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  JwtOptions options;
  options.algorithm = JwtOptions::Algorithm::kES256;
  options.key = keys->ec_public_pem;
  absl::StatusOr<std::unique_ptr<JwtValidator>> jwt =
      JwtValidator::Create(std::move(options));
  ASSERT_TRUE(jwt.ok()) << jwt.status();

  std::vector<std::unique_ptr<TokenValidator>> validators;
  validators.push_back(*std::move(tokens));
  validators.push_back(*std::move(jwt));
  absl::StatusOr<std::unique_ptr<TokenValidator>> any =
      AnyOfValidators(std::move(validators));
  ASSERT_TRUE(any.ok()) << any.status();

  testing::JwtClaims claims;
  claims.sub = "urn:asap:agent:bob";
  claims.exp = absl::ToUnixSeconds(absl::Now()) + 600;
  absl::StatusOr<std::string> token = testing::MintJwt(
      JwtOptions::Algorithm::kES256, keys->ec_private_pem, claims);
  ASSERT_TRUE(token.ok()) << token.status();

  EXPECT_EQ(*(*any)->Validate("static-token-0123456789"),
            "urn:asap:agent:alice");
  EXPECT_EQ(*(*any)->Validate(*token), "urn:asap:agent:bob");
  absl::StatusOr<std::string> unknown = (*any)->Validate("unknown-token-00000");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown bearer token"));
  absl::StatusOr<std::string> empty = (*any)->Validate("");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("no bearer token"));
}

TEST(TokenDigestTest, IsSha256) {
  EXPECT_EQ(absl::BytesToHexString(TokenDigest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(TokenDigest("").size(), kTokenDigestBytes);
  EXPECT_NE(TokenDigest("token-1"), TokenDigest("token-2"));
}

}  // namespace
}  // namespace asap
