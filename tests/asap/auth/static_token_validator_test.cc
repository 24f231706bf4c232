#include "asap/auth/static_token_validator.h"

#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAliceToken[] = "alice-token-0123456789";
constexpr char kBobToken[] = "bob-token-abcdefghijklm";

std::string WriteFile(const std::string& name, const std::string& content) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

absl::Status LoadStatus(absl::string_view text) {
  return StaticTokenValidator::FromText(text, "tokens.txt").status();
}

void ExpectUnauthenticated(const absl::StatusOr<std::string>& result,
                           absl::string_view detail) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnauthenticated);
  EXPECT_THAT(result.status().message(), HasSubstr(detail));
}

TEST(StaticTokenValidatorTest, ReadsTokensSkippingCommentsAndBlankLines) {
  std::string text = absl::StrCat(
      "# tokens of the test agents\n", "\n", "   \t\n", kAliceToken,
      "  urn:asap:agent:alice\n", "  # an indented comment\n", kBobToken,
      "\turn:asap:agent:bob\r\n",
      "second-alice-token-xyz urn:asap:agent:alice:v2");
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> validator =
      StaticTokenValidator::FromText(text, "tokens.txt");
  ASSERT_TRUE(validator.ok()) << validator.status();
  EXPECT_EQ((*validator)->size(), 3u);
  EXPECT_EQ(*(*validator)->Validate(kAliceToken), "urn:asap:agent:alice");
  EXPECT_EQ(*(*validator)->Validate(kBobToken), "urn:asap:agent:bob");
  EXPECT_EQ(*(*validator)->Validate("second-alice-token-xyz"),
            "urn:asap:agent:alice:v2");
}

TEST(StaticTokenValidatorTest, OneAgentMayHaveSeveralTokens) {
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> validator =
      StaticTokenValidator::FromText(
          absl::StrCat(kAliceToken, " urn:asap:agent:alice\n", kBobToken,
                       " urn:asap:agent:alice\n"),
          "tokens.txt");
  ASSERT_TRUE(validator.ok()) << validator.status();
  EXPECT_EQ(*(*validator)->Validate(kAliceToken), "urn:asap:agent:alice");
  EXPECT_EQ(*(*validator)->Validate(kBobToken), "urn:asap:agent:alice");
}

TEST(StaticTokenValidatorTest, RefusesLineWithOneField) {
  absl::Status status = LoadStatus(absl::StrCat(
      kAliceToken, " urn:asap:agent:alice\n", "# comment\n", kBobToken, "\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tokens.txt:3:"));
  EXPECT_THAT(status.message(), HasSubstr("found 1 fields"));
  EXPECT_THAT(status.message(), Not(HasSubstr(kBobToken)));
}

TEST(StaticTokenValidatorTest, RefusesLineWithThreeFields) {
  absl::Status status =
      LoadStatus(absl::StrCat(kAliceToken, " urn:asap:agent:alice extra\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tokens.txt:1:"));
  EXPECT_THAT(status.message(), HasSubstr("found 3 fields"));
  EXPECT_THAT(status.message(), Not(HasSubstr(kAliceToken)));
}

TEST(StaticTokenValidatorTest, RefusesSecondFieldThatIsNotAnAgentUrn) {
  for (absl::string_view agent :
       {"alice", "urn:asap:task:alice", "urn:asap:agent:", "URN:ASAP:AGENT:A",
        "urn:asap:agent:Alice"}) {
    absl::Status status = LoadStatus(absl::StrCat(kAliceToken, " ", agent));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << agent;
    EXPECT_THAT(status.message(), HasSubstr("tokens.txt:1:"));
    EXPECT_THAT(status.message(), HasSubstr("not an agent URN"));
  }
}

TEST(StaticTokenValidatorTest, SwappedColumnsDoNotEchoTheToken) {
  absl::Status status =
      LoadStatus(absl::StrCat("urn:asap:agent:alice ", kAliceToken, "\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not an agent URN"));
  EXPECT_THAT(status.message(), Not(HasSubstr(kAliceToken)));
}

TEST(StaticTokenValidatorTest, RefusesDuplicateTokenNamingBothLines) {
  absl::Status status = LoadStatus(absl::StrCat(
      kAliceToken, " urn:asap:agent:alice\n", kBobToken,
      " urn:asap:agent:bob\n", kAliceToken, " urn:asap:agent:carol\n"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tokens.txt:3:"));
  EXPECT_THAT(status.message(), HasSubstr("duplicate token (first on line 1)"));
  EXPECT_THAT(status.message(), Not(HasSubstr(kAliceToken)));
}

TEST(StaticTokenValidatorTest, RefusesTokenShorterThan16Bytes) {
  absl::Status status = LoadStatus("short-token-15b urn:asap:agent:alice\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("shorter than 16 bytes"));
  EXPECT_THAT(status.message(), Not(HasSubstr("short-token-15b")));
  EXPECT_TRUE(StaticTokenValidator::FromText(
                  "token-of-16bytes urn:asap:agent:alice", "tokens.txt")
                  .ok());
}

TEST(StaticTokenValidatorTest, RefusesTokenWithNonPrintableBytes) {
  absl::Status status =
      LoadStatus("token-with-\x01-control urn:asap:agent:alice\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("printable ASCII"));
}

TEST(StaticTokenValidatorTest, RefusesFileWithoutTokens) {
  for (absl::string_view text : {"", "\n\n", "# only a comment\n\n# more\n"}) {
    absl::Status status = LoadStatus(text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("tokens.txt holds no tokens"));
  }
}

TEST(StaticTokenValidatorTest, RefusesTextOverOneMebibyte) {
  std::string text = absl::StrCat(kAliceToken, " urn:asap:agent:alice\n");
  text.append(kMaxTokenFileBytes, '#');
  absl::Status status = LoadStatus(text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("larger than 1048576 bytes"));
}

TEST(StaticTokenValidatorTest, ReadsFile) {
  std::string path = WriteFile(
      "tokens_good.txt", absl::StrCat(kAliceToken, " urn:asap:agent:alice\n"));
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> validator =
      StaticTokenValidator::FromFile(path);
  ASSERT_TRUE(validator.ok()) << validator.status();
  EXPECT_EQ(*(*validator)->Validate(kAliceToken), "urn:asap:agent:alice");
}

TEST(StaticTokenValidatorTest, FileErrorsNameTheFile) {
  std::string path = WriteFile("tokens_bad.txt",
                               absl::StrCat("\n", kAliceToken, " not-a-urn\n"));
  absl::Status status = StaticTokenValidator::FromFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":2:"));
}

TEST(StaticTokenValidatorTest, RefusesMissingFile) {
  absl::Status status =
      StaticTokenValidator::FromFile(::testing::TempDir() + "no_such_file")
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("cannot read"));
}

TEST(StaticTokenValidatorTest, RefusesFileOverOneMebibyte) {
  std::string path =
      WriteFile("tokens_big.txt", std::string(kMaxTokenFileBytes + 1, '#'));
  absl::Status status = StaticTokenValidator::FromFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("larger than"));
}

class StaticTokenLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<StaticTokenValidator>> validator =
        StaticTokenValidator::FromText(
            absl::StrCat(kAliceToken, " urn:asap:agent:alice\n"), "tokens");
    ASSERT_TRUE(validator.ok()) << validator.status();
    validator_ = *std::move(validator);
  }

  std::unique_ptr<StaticTokenValidator> validator_;
};

TEST_F(StaticTokenLookupTest, RefusesEmptyToken) {
  ExpectUnauthenticated(validator_->Validate(""), "no bearer token");
}

TEST_F(StaticTokenLookupTest, RefusesUnknownToken) {
  ExpectUnauthenticated(validator_->Validate("some-other-token-0000"),
                        "unknown bearer token");
}

TEST_F(StaticTokenLookupTest, RefusesNearMisses) {
  std::string token = kAliceToken;
  for (const std::string& near :
       {token.substr(0, token.size() - 1), token + "x", token + " ",
        " " + token, std::string("Alice") + token.substr(5)}) {
    absl::StatusOr<std::string> result = validator_->Validate(near);
    ExpectUnauthenticated(result, "unknown bearer token");
    EXPECT_THAT(result.status().message(), Not(HasSubstr(near)));
  }
}

}  // namespace
}  // namespace asap
