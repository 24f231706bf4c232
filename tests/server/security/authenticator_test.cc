#include "server/security/authenticator.h"

#include <memory>
#include <string>

#include "asap/auth/static_token_validator.h"
#include "asap/errors.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

constexpr char kAlice[] = "urn:asap:agent:alice";
constexpr char kToken[] = "alice-token-0123456789abcdef";

AuthOptions WithTokens() {
  AuthOptions options;
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> table =
      StaticTokenValidator::FromText(std::string(kToken) + " " + kAlice,
                                     "tokens");
  EXPECT_TRUE(table.ok()) << table.status();
  options.token_validator = *std::move(table);
  return options;
}

// Credentials whose Authorization value lives as long as they do (the
// struct only views it).
struct OwnedCredentials {
  explicit OwnedCredentials(std::string value) : text(std::move(value)) {
    credentials.authorization = text;
  }
  std::string text;
  CallCredentials credentials;
};

TEST(AuthenticatorTest, OffAuthenticatesNobodyAndRefusesNobody) {
  Authenticator authenticator{AuthOptions{}};
  EXPECT_FALSE(authenticator.enabled());
  absl::StatusOr<std::string> who = authenticator.Authenticate({});
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(*who, "");
}

TEST(AuthenticatorTest, BearerTokenGivesItsAgent) {
  Authenticator authenticator(WithTokens());
  OwnedCredentials bearer(std::string("Bearer ") + kToken);
  absl::StatusOr<std::string> who =
      authenticator.Authenticate(bearer.credentials);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, kAlice);
  // The scheme is case-insensitive; surrounding spaces are ignored.
  OwnedCredentials spaced(std::string("  bearer   ") + kToken);
  who = authenticator.Authenticate(spaced.credentials);
  ASSERT_TRUE(who.ok()) << who.status();
}

TEST(AuthenticatorTest, RefusalsAreUnauthenticated) {
  Authenticator authenticator(WithTokens());
  struct Case {
    std::optional<std::string> authorization;
    ErrorCode code;
  };
  const Case cases[] = {
      {std::nullopt, ErrorCode::kUnauthenticated},
      {"Bearer", ErrorCode::kUnauthenticated},
      {"Bearer    ", ErrorCode::kUnauthenticated},
      {"Bearer wrong-token-0123456789", ErrorCode::kUnauthenticated},
      {"Basic YWxpY2U6cGFzcw==", ErrorCode::kUnsupportedAuthScheme},
      {std::string(20000, 'x'), ErrorCode::kUnauthenticated},
      {std::string("Bearer\x01") + kToken, ErrorCode::kUnsupportedAuthScheme},
  };
  for (const Case& c : cases) {
    CallCredentials credentials;
    if (c.authorization) credentials.authorization = *c.authorization;
    absl::StatusOr<std::string> who = authenticator.Authenticate(credentials);
    ASSERT_FALSE(who.ok()) << c.authorization.value_or("(none)");
    EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(ErrorCodeOf(who.status()), c.code) << who.status();
    // The token never shows in the refusal.
    EXPECT_EQ(who.status().message().find("wrong-token"),
              absl::string_view::npos);
  }
}

TEST(AuthenticatorTest, ClientCertificateNamesTheAgent) {
  AuthOptions options = WithTokens();
  options.client_certificates = true;
  Authenticator authenticator(std::move(options));
  CallCredentials credentials;
  credentials.certificate_uris = {"localhost", "urn:asap:agent:tls-client"};
  absl::StatusOr<std::string> who = authenticator.Authenticate(credentials);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, "urn:asap:agent:tls-client");
  // A token for another agent on the same call is refused.
  const std::string alice = std::string("Bearer ") + kToken;
  credentials.authorization = alice;
  EXPECT_EQ(authenticator.Authenticate(credentials).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Two agents in one certificate are ambiguous.
  credentials = CallCredentials();
  credentials.certificate_uris = {"urn:asap:agent:a", "urn:asap:agent:b"};
  EXPECT_FALSE(authenticator.Authenticate(credentials).ok());
  // A certificate without an agent URN is no identity.
  credentials.certificate_uris = {"localhost"};
  EXPECT_FALSE(authenticator.Authenticate(credentials).ok());
}

TEST(AuthenticatorTest, CertificatesIgnoredUnlessEnabled) {
  Authenticator authenticator(WithTokens());
  CallCredentials credentials;
  credentials.certificate_uris = {"urn:asap:agent:tls-client"};
  EXPECT_FALSE(authenticator.Authenticate(credentials).ok());
}

TEST(AuthenticatorTest, CheckSenderComparesExactly) {
  v1::Envelope envelope;
  envelope.set_sender(kAlice);
  EXPECT_TRUE(CheckSender(envelope, "").ok());
  EXPECT_TRUE(CheckSender(envelope, kAlice).ok());
  for (const char* other : {"urn:asap:agent:alicex", "urn:asap:agent:Alice",
                            "urn:asap:agent:bob"}) {
    absl::Status status = CheckSender(envelope, other);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kSenderMismatch);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  }
  envelope.set_sender("urn:asap:agent:alice\nforged log line");
  absl::Status status = CheckSender(envelope, kAlice);
  EXPECT_EQ(status.message().find('\n'), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace asap
