// Attacks on an agent with authentication (and rate limits) on, run against
// real servers on 127.0.0.1 port 0, on both bindings. Every test asserts the
// SAFE behaviour: a test that fails here is a finding, not a flaky test.
//
// Groups:
//   - sender binding and empty identities (every way an envelope arrives);
//   - header and metadata tricks (duplicates, case, separators, NUL/CR/LF,
//     obs-fold, huge values), and tokens echoed in refusals;
//   - JWT tricks (alg confusion, key-carrying headers, malformed claims,
//     aud/iss/sub games, duplicate claims, splicing, size);
//   - rate-limit evasion (batches, spoofed senders, ports, bindings,
//     forwarded-for headers, address cycling, stream-log slots);
//   - SSE stream ids and ownership; metrics and reflection;
//   - TLS: plaintext downgrade, mutual-TLS SAN confusion, a refused reload.
// Keys and certificates are made at run time (tests/testing/make_test_certs.sh
// and openssl); none is committed.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asap/auth/jwt_validator.h"
#include "asap/auth/static_token_validator.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "server/grpc/reloadable_tls.h"
#include "tests/server/reflection_client.h"
#include "tests/testing/auth_fixtures.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/jwt_minter.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::asap::testing::EchoedText;
using ::asap::testing::EchoRequest;
using ::testing::HasSubstr;
using ::testing::Not;

using ::asap::testing::BearerHeader;
using ::asap::testing::Binding;
using ::asap::testing::BindingName;
using ::asap::testing::Curl;
using ::asap::testing::CurlOptions;
using ::asap::testing::JsonRpcSendBody;
using ::asap::testing::kAlice;
using ::asap::testing::kAliceToken;
using ::asap::testing::kBob;
using ::asap::testing::kBobToken;
using ::asap::testing::kIssuer;
using ::asap::testing::RawAnswer;
constexpr char kAudience[] = "asap-attack-test";
// A secret the server does not know.
constexpr char kAttackerSecret[] = "attacker-secret-attacker-secret-attacker!!";

// --- Keys and hand-made JWTs -------------------------------------------------

const testing::TestKeys& Keys() {
  static const testing::TestKeys* const keys = [] {
    absl::StatusOr<testing::TestKeys> made = testing::GenerateTestKeys();
    EXPECT_TRUE(made.ok()) << made.status();
    return new testing::TestKeys(made.value_or(testing::TestKeys()));
  }();
  return *keys;
}

std::string B64(absl::string_view bytes) {
  return absl::WebSafeBase64Escape(bytes);  // base64url, no padding
}

std::string Hmac(const EVP_MD* md, absl::string_view key,
                 absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

// A compact JWS of exactly these header and payload bytes, HMAC-signed.
std::string SignedJws(absl::string_view header, absl::string_view payload,
                      absl::string_view key, const EVP_MD* md = EVP_sha256()) {
  std::string input = absl::StrCat(B64(header), ".", B64(payload));
  return absl::StrCat(input, ".", B64(Hmac(md, key, input)));
}

constexpr char kHs256Header[] = R"({"alg":"HS256","typ":"JWT"})";

int64_t Now() { return absl::ToUnixSeconds(absl::Now()); }

// Alice's claims with `extra` (",\"k\":v..." or "") appended, and `exp`
// unless `with_exp` is false.
std::string Claims(absl::string_view extra = "", bool with_exp = true,
                   absl::string_view sub = kAlice) {
  std::string json = absl::StrCat(R"({"sub":")", sub, R"(","iss":")", kIssuer,
                                  R"(","aud":")", kAudience, "\"");
  if (with_exp) absl::StrAppend(&json, ",\"exp\":", Now() + 600);
  absl::StrAppend(&json, extra, "}");
  return json;
}

// The server's validators: a static token table, HS256 JWTs and RS256 JWTs
// (all with iss and aud).
std::shared_ptr<const TokenValidator> Validators() {
  return testing::TestValidators(
      Keys(), kAudience,
      {JwtOptions::Algorithm::kHS256, JwtOptions::Algorithm::kRS256});
}

std::unique_ptr<AsapServer> StartServer(
    RateLimitOptions rate_limit = {},
    std::shared_ptr<const TokenValidator> validator = Validators(),
    HandlerRegistry handlers = asap::EchoHandlers()) {
  return testing::StartAuthServer(std::move(validator), std::move(rate_limit),
                                  std::move(handlers));
}

RateLimitOptions Limit(int64_t count, absl::Duration period) {
  RateLimitOptions limits;
  limits.enabled = true;
  limits.limits = {{count, period}};
  return limits;
}

// --- Raw HTTP ----------------------------------------------------------------

std::string Bearer(absl::string_view token) {
  return BearerHeader(std::string(token));
}

// Bytes to 127.0.0.1:`port` and whatever comes back until the peer closes
// (or 10 s pass): for requests curl would not send.
std::string RawHttp(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n =
          send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    char buffer[4096];
    for (;;) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

// A POST /asap whose header block is `authorization_lines` (CRLF-terminated
// lines, or raw bytes) with Alice's envelope.
std::string PostWithRawHeaders(absl::string_view authorization_lines) {
  std::string body = JsonRpcSendBody(kAlice);
  return absl::StrCat("POST /asap HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      "Content-Type: application/json\r\n",
                      "Connection: close\r\n", authorization_lines,
                      "Content-Length: ", body.size(), "\r\n\r\n", body);
}

// --- Raw gRPC ----------------------------------------------------------------

std::unique_ptr<v1::AsapService::Stub> Stub(const std::string& address) {
  return v1::AsapService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

void Deadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(20));
}

// Send over a raw stub with these `authorization` metadata values.
absl::StatusOr<v1::Envelope> GrpcSend(
    const std::string& address, const std::vector<std::string>& authorization,
    const std::string& sender) {
  grpc::ClientContext context;
  Deadline(&context);
  for (const std::string& value : authorization) {
    context.AddMetadata("authorization", value);
  }
  v1::Envelope response;
  grpc::Status status =
      Stub(address)->Send(&context, EchoRequest("raw", sender), &response);
  if (!status.ok()) return FromGrpcStatus(status, &context);
  return response;
}

// --- AsapClient --------------------------------------------------------------

std::string Target(const AsapServer& server, Binding binding) {
  return binding == Binding::kGrpc
             ? server.address()
             : absl::StrCat("http://", server.http_address());
}

std::unique_ptr<AsapClient> Client(const std::string& target,
                                   const std::string& token) {
  ClientOptions options;
  options.target = target;
  if (!token.empty()) options.token_provider = StaticToken(token);
  options.rate_limit_retries = 0;
  options.http.retry.max_retries = 0;
  options.timeout = absl::Seconds(20);
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

class BindingTest : public ::testing::TestWithParam<Binding> {};

// =============================================================================
// 1. Sender binding and empty identities
// =============================================================================

// SendCompressed is a second unary entry point: it must authenticate and
// bind the sender like Send.
TEST(SenderBindingAttack, SendCompressedChecksTheCallerAndTheSender) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  auto compressed_send = [&](const std::string& authorization,
                             const std::string& sender) {
    grpc::ClientContext context;
    Deadline(&context);
    if (!authorization.empty()) {
      context.AddMetadata("authorization", authorization);
    }
    v1::CompressedEnvelope request;
    request.set_encoding("identity");
    request.set_body(EchoRequest("compressed", sender).SerializeAsString());
    v1::CompressedEnvelope response;
    grpc::Status status =
        Stub(server->address())->SendCompressed(&context, request, &response);
    return std::make_pair(status, FromGrpcStatus(status, &context));
  };
  auto [anonymous, anonymous_error] = compressed_send("", kAlice);
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ErrorCodeOf(anonymous_error), ErrorCode::kUnauthenticated);
  auto [spoofed, spoofed_error] =
      compressed_send(absl::StrCat("Bearer ", kAliceToken), kBob);
  EXPECT_EQ(spoofed.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ErrorCodeOf(spoofed_error), ErrorCode::kSenderMismatch);
  auto [own, own_error] =
      compressed_send(absl::StrCat("Bearer ", kAliceToken), kAlice);
  EXPECT_TRUE(own.ok()) << own_error;
}

// HTTP/2 (h2c) requests go through the same authentication as HTTP/1.1.
TEST(SenderBindingAttack, H2cRequestsAreAuthenticatedAndBound) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  CurlOptions anonymous;
  anonymous.http2_prior_knowledge = true;
  anonymous.body = JsonRpcSendBody(kAlice);
  RawAnswer refused = Curl(url, anonymous);
  EXPECT_FALSE(refused.Served()) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr(R"("status_code":401)"));
  CurlOptions spoof = anonymous;
  spoof.headers = {Bearer(kAliceToken)};
  spoof.body = JsonRpcSendBody(kBob);
  RawAnswer spoofed = Curl(url, spoof);
  EXPECT_FALSE(spoofed.Served()) << spoofed.body;
  EXPECT_THAT(spoofed.body, HasSubstr(R"("status_code":403)"));
}

// A validator that maps a token to "" (a custom validator with a map lookup
// that defaults to the empty string, say). With authentication on, an empty
// identity must not mean "anyone": CheckSender skips the check for an empty
// identity, and the rate limiter falls back to the peer address.
class EmptyIdentityValidator : public TokenValidator {
 public:
  absl::StatusOr<std::string> Validate(absl::string_view token) const override {
    if (token == "sloppy-token-0123456789") return std::string();
    return AsapError(ErrorCode::kUnauthenticated, "unknown bearer token");
  }
};

TEST_P(BindingTest, ValidatorGivingAnEmptyIdentityDoesNotDisableSenderChecks) {
  std::unique_ptr<AsapServer> server =
      StartServer({}, std::make_shared<EmptyIdentityValidator>());
  ASSERT_NE(server, nullptr);
  std::unique_ptr<AsapClient> client =
      Client(Target(*server, GetParam()), "sloppy-token-0123456789");
  ASSERT_NE(client, nullptr);
  // The "authenticated" caller speaks for bob.
  absl::StatusOr<v1::Envelope> result = client->Send(EchoRequest("x", kBob));
  EXPECT_FALSE(result.ok())
      << "authentication is on, yet a call with an empty identity was "
         "dispatched for an arbitrary sender";
}

// =============================================================================
// 2. Header and metadata tricks
// =============================================================================

// Two Authorization headers: the one that authenticates must never be the
// second (what a proxy that validates the last one would let through).
TEST(HeaderAttack, DuplicateAuthorizationHeadersOverHttp) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  CurlOptions junk_first;
  junk_first.headers = {Bearer("junk-token-that-is-unknown"),
                        Bearer(kAliceToken)};
  junk_first.body = JsonRpcSendBody(kAlice);
  RawAnswer answer = Curl(url, junk_first);
  EXPECT_FALSE(answer.Served()) << answer.body;
  CurlOptions bob_second;
  bob_second.headers = {Bearer(kAliceToken), Bearer(kBobToken)};
  bob_second.body = JsonRpcSendBody(kBob);
  answer = Curl(url, bob_second);
  EXPECT_FALSE(answer.Served()) << answer.body;
}

TEST(HeaderAttack, DuplicateAuthorizationMetadataOverGrpc) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_FALSE(GrpcSend(server->address(),
                        {"Bearer junk-token-that-is-unknown",
                         absl::StrCat("Bearer ", kAliceToken)},
                        kAlice)
                   .ok());
  EXPECT_FALSE(GrpcSend(server->address(),
                        {absl::StrCat("Bearer ", kAliceToken),
                         absl::StrCat("Bearer ", kBobToken)},
                        kBob)
                   .ok());
}

// Header-name case, scheme case and surrounding spaces change nothing about
// who is authenticated; a tab is not the separator.
TEST(HeaderAttack, CaseAndWhitespaceVariantsNameOnlyTheTokensAgent) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  for (const std::string& header :
       {absl::StrCat("AUTHORIZATION: Bearer ", kAliceToken),
        absl::StrCat("aUtHoRiZaTiOn: bEaReR ", kAliceToken),
        absl::StrCat("Authorization:    Bearer    ", kAliceToken, "   ")}) {
    CurlOptions as_alice;
    as_alice.headers = {header};
    as_alice.body = JsonRpcSendBody(kAlice);
    EXPECT_TRUE(Curl(url, as_alice).Served()) << header;
    CurlOptions as_bob = as_alice;
    as_bob.body = JsonRpcSendBody(kBob);
    EXPECT_FALSE(Curl(url, as_bob).Served()) << header;
  }
  CurlOptions tab;
  tab.headers = {absl::StrCat("Authorization: Bearer\t", kAliceToken)};
  tab.body = JsonRpcSendBody(kAlice);
  EXPECT_FALSE(Curl(url, tab).Served());
}

// NUL, CR and LF, obs-fold and a space before the colon: none of them may
// smuggle a token past the parser or make an unknown token work.
TEST(HeaderAttack, ControlBytesAndFoldingNeverAuthenticate) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = server->http_port();
  const std::string token = kAliceToken;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"NUL after the token", absl::StrCat("Authorization: Bearer ", token,
                                           std::string(1, '\0'), "junk\r\n")},
      {"NUL inside the token",
       absl::StrCat("Authorization: Bearer ", token.substr(0, 5),
                    std::string(1, '\0'), token.substr(5), "\r\n")},
      {"bare CR inside the value",
       absl::StrCat("Authorization: Bearer junk\r", token, "\r\n")},
      {"bare LF line ending then the real token",
       absl::StrCat("Authorization: Bearer junk\nAuthorization: Bearer ", token,
                    "\r\n")},
      {"obs-fold carrying the token",
       absl::StrCat("Authorization: Bearer junk\r\n ", token, "\r\n")},
      {"space before the colon",
       absl::StrCat("Authorization : Bearer ", token, "\r\n")},
  };
  for (const auto& [what, lines] : cases) {
    std::string answer = RawHttp(port, PostWithRawHeaders(lines));
    EXPECT_THAT(answer, Not(HasSubstr("\"result\""))) << what;
  }
  // The listener still serves a well-formed request.
  std::string ok = RawHttp(port, PostWithRawHeaders(absl::StrCat(
                                     "Authorization: Bearer ", token, "\r\n")));
  EXPECT_THAT(ok, HasSubstr("\"result\""));
}

TEST(HeaderAttack, HugeAuthorizationValuesAreRefusedAndHarmless) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  // Over the JWT limit (8 KiB) but under the listener's header limit
  // (16 KiB), and far over the header limit.
  for (size_t size : {size_t{9 * 1024}, size_t{1024 * 1024}}) {
    CurlOptions huge;
    huge.headers = {Bearer(std::string(size, 'a'))};
    huge.body = JsonRpcSendBody(kAlice);
    RawAnswer answer = Curl(url, huge);
    EXPECT_FALSE(answer.Served()) << size;
  }
  EXPECT_FALSE(GrpcSend(server->address(),
                        {absl::StrCat("Bearer ", std::string(64 * 1024, 'a'))},
                        kAlice)
                   .ok());
  // Both bindings still serve.
  CurlOptions normal;
  normal.headers = {Bearer(kAliceToken)};
  normal.body = JsonRpcSendBody(kAlice);
  EXPECT_TRUE(Curl(url, normal).Served());
  EXPECT_TRUE(GrpcSend(server->address(),
                       {absl::StrCat("Bearer ", kAliceToken)}, kAlice)
                  .ok());
}

// A refusal must not send a credential back: clients log error messages, and
// proxies log bodies. A token sent without its scheme, or with a tab as the
// separator, is the token itself, and is echoed as the "scheme".
TEST(LeakAttack, RefusalsNeverEchoTheToken) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  const std::string secret_part = "alice-static-token";
  for (const std::string& value :
       {std::string(kAliceToken), absl::StrCat("Bearer\t", kAliceToken),
        absl::StrCat("Token ", kAliceToken)}) {
    CurlOptions options;
    options.headers = {absl::StrCat("Authorization: ", value)};
    options.body = JsonRpcSendBody(kAlice);
    RawAnswer answer = Curl(url, options);
    EXPECT_FALSE(answer.Served());
    EXPECT_THAT(answer.body, Not(HasSubstr(secret_part)))
        << "HTTP refusal echoes the credential: " << answer.body;
    CurlOptions metrics;
    metrics.headers = options.headers;
    RawAnswer metrics_answer =
        Curl(absl::StrCat("http://", server->http_address(), "/asap/metrics"),
             metrics);
    EXPECT_THAT(metrics_answer.body, Not(HasSubstr(secret_part)))
        << "metrics refusal echoes the credential: " << metrics_answer.body;
  }
  absl::StatusOr<v1::Envelope> grpc =
      GrpcSend(server->address(), {kAliceToken}, kAlice);
  ASSERT_FALSE(grpc.ok());
  EXPECT_THAT(std::string(grpc.status().message()), Not(HasSubstr(secret_part)))
      << "gRPC refusal echoes the credential: " << grpc.status();
}

// =============================================================================
// 3. JWT tricks (HTTP; the validators are the same on gRPC)
// =============================================================================

class JwtAttack : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer();
    ASSERT_NE(server_, nullptr);
    url_ = absl::StrCat("http://", server_->http_address(), "/asap");
  }
  RawAnswer Call(const std::string& token, const std::string& sender = kAlice) {
    CurlOptions options;
    options.headers = {Bearer(token)};
    options.body = JsonRpcSendBody(sender);
    return Curl(url_, options);
  }
  void ExpectRefused(const std::string& token, const std::string& why) {
    RawAnswer answer = Call(token);
    EXPECT_FALSE(answer.Served()) << why << ": " << answer.body;
    EXPECT_THAT(answer.body, HasSubstr(R"("status_code":401)")) << why;
  }
  std::string Signed(absl::string_view payload) const {
    return SignedJws(kHs256Header, payload, Keys().hs256_secret);
  }

  std::unique_ptr<AsapServer> server_;
  std::string url_;
};

TEST_F(JwtAttack, ControlsAreServed) {
  EXPECT_TRUE(Call(Signed(Claims())).Served());
  testing::JwtClaims claims;
  claims.sub = kAlice;
  claims.iss = kIssuer;
  claims.aud = kAudience;
  claims.exp = Now() + 600;
  absl::StatusOr<std::string> rs256 = testing::MintJwt(
      JwtOptions::Algorithm::kRS256, Keys().rsa_private_pem, claims);
  ASSERT_TRUE(rs256.ok());
  EXPECT_TRUE(Call(*rs256).Served());
  // By design an aud array naming this agent among others is accepted.
  EXPECT_TRUE(
      Call(Signed(absl::StrReplaceAll(
               Claims(), {{absl::StrCat("\"", kAudience, "\""),
                           absl::StrCat("[\"other\",\"", kAudience, "\"]")}})))
          .Served());
}

TEST_F(JwtAttack, AlgNoneIsRefused) {
  const std::string payload = B64(Claims());
  for (const std::string& header :
       {std::string(R"({"alg":"none","typ":"JWT"})"),
        std::string(R"({"alg":"none"})"), std::string(R"({"alg":"None"})"),
        std::string(R"({"alg":"NONE"})")}) {
    ExpectRefused(absl::StrCat(B64(header), ".", payload, "."), header);
    ExpectRefused(absl::StrCat(B64(header), ".", payload, ".AAAA"),
                  header + " with a signature");
  }
}

// HS256 keyed with the RS256 validator's public key: libjwt verifies the HMAC
// with whatever key it is given, so only the pinned algorithm stops it.
TEST_F(JwtAttack, HmacKeyedWithThePublicKeyIsRefused) {
  ExpectRefused(SignedJws(kHs256Header, Claims(), Keys().rsa_public_pem),
                "HS256 with the RSA public PEM");
  std::string trimmed = Keys().rsa_public_pem;
  if (absl::EndsWith(trimmed, "\n")) trimmed.pop_back();
  ExpectRefused(SignedJws(kHs256Header, Claims(), trimmed),
                "HS256 with the RSA public PEM without its newline");
}

TEST_F(JwtAttack, OtherHmacAlgorithmsWithTheRealSecretAreRefused) {
  ExpectRefused(SignedJws(R"({"alg":"HS512","typ":"JWT"})", Claims(),
                          Keys().hs256_secret, EVP_sha512()),
                "HS512");
  ExpectRefused(SignedJws(R"({"alg":"HS384","typ":"JWT"})", Claims(),
                          Keys().hs256_secret, EVP_sha384()),
                "HS384");
}

// Headers that name a key (kid, jku, jwk, x5u) are ignored: the key is pinned.
TEST_F(JwtAttack, KeyCarryingHeadersAreIgnored) {
  const std::string attacker_jwk =
      absl::StrCat(R"({"kty":"oct","k":")", B64(kAttackerSecret), "\"}");
  for (const std::string& header :
       {std::string(R"({"alg":"HS256","typ":"JWT","kid":"attacker"})"),
        std::string(
            R"({"alg":"HS256","typ":"JWT","kid":"../../../../dev/null"})"),
        std::string(
            R"({"alg":"HS256","typ":"JWT","jku":"http://127.0.0.1:1/jwks"})"),
        absl::StrCat(R"({"alg":"HS256","typ":"JWT","jwk":)", attacker_jwk, "}"),
        std::string(
            R"({"alg":"HS256","typ":"JWT","x5u":"http://127.0.0.1:1/x"})")}) {
    ExpectRefused(SignedJws(header, Claims(), kAttackerSecret), header);
  }
  // An empty-key trick: "kid" naming nothing with an empty HMAC key.
  ExpectRefused(SignedJws(R"({"alg":"HS256","kid":""})", Claims(), ""),
                "empty HMAC key");
}

TEST_F(JwtAttack, MalformedTimeClaimsAreRefused) {
  const int64_t soon = Now() + 600;
  for (const std::string& exp :
       {absl::StrCat("\"", soon, "\""), std::string("true"),
        std::string("null"), absl::StrCat("[", soon, "]"),
        absl::StrCat("{\"t\":", soon, "}"), std::string("1e400"),
        std::string("18446744073709551615"),
        std::string("99999999999999999999999"), std::string("1e300"),
        std::string("-1"), std::string("0"),
        std::string("-9223372036854775808"), std::string("-1e300")}) {
    ExpectRefused(Signed(Claims(absl::StrCat(",\"exp\":", exp), false)),
                  "exp " + exp);
  }
  ExpectRefused(Signed(Claims("", false)), "no exp");
  for (const std::string& nbf :
       {std::string("\"0\""), std::string("true"), std::string("[0]"),
        absl::StrCat(Now() + 3600), std::string("1e300")}) {
    ExpectRefused(Signed(Claims(absl::StrCat(",\"nbf\":", nbf))), "nbf " + nbf);
  }
}

TEST_F(JwtAttack, AudienceAndIssuerGamesAreRefused) {
  auto with = [](absl::string_view claim, absl::string_view json) {
    std::string claims =
        absl::StrCat("{\"sub\":\"", kAlice, "\",\"exp\":", Now() + 600);
    if (claim != "iss") absl::StrAppend(&claims, ",\"iss\":\"", kIssuer, "\"");
    if (claim != "aud") {
      absl::StrAppend(&claims, ",\"aud\":\"", kAudience, "\"");
    }
    if (!json.empty()) absl::StrAppend(&claims, ",\"", claim, "\":", json);
    return absl::StrCat(claims, "}");
  };
  const std::string aud = kAudience;
  for (const std::string& value :
       {std::string(""), absl::StrCat("[[\"", aud, "\"]]"),
        absl::StrCat("{\"", aud, "\":true}"),
        absl::StrCat("\"", absl::AsciiStrToUpper(aud), "\""),
        absl::StrCat("\"", aud, " \""), absl::StrCat("\" ", aud, "\""),
        absl::StrCat("\"", aud, "\\u0000\""), std::string("[]"),
        std::string("1"), std::string("null"),
        absl::StrCat("\"", aud, "/\"")}) {
    ExpectRefused(Signed(with("aud", value)), "aud " + value);
  }
  const std::string iss = kIssuer;
  for (const std::string& value :
       {std::string(""), absl::StrCat("[\"", iss, "\"]"),
        absl::StrCat("\"", iss, "/\""), absl::StrCat("\"", iss, " \""),
        std::string("null")}) {
    ExpectRefused(Signed(with("iss", value)), "iss " + value);
  }
}

TEST_F(JwtAttack, SubjectGamesAreRefused) {
  for (const std::string& sub :
       {std::string("URN:ASAP:AGENT:ALICE"),
        std::string("urn:asap:agent:Alice"),
        std::string(" urn:asap:agent:alice"),
        std::string("urn:asap:agent:alice "),
        std::string("urn:asap:agent:alice\\n"),
        std::string("urn:asap:agent:alice\\t"),
        std::string("urn:asap:agent:alice\\u0000"),
        std::string("urn:asap:agent:"), std::string("urn:asap:agent:a:b:c"),
        std::string("urn:asap:agent:alice/../bob"), std::string("")}) {
    ExpectRefused(Signed(Claims("", true, sub)), "sub '" + sub + "'");
  }
  // Not a string at all.
  for (const std::string& sub :
       {absl::StrCat("[\"", kAlice, "\"]"), std::string("1"),
        std::string("null"), absl::StrCat("{\"id\":\"", kAlice, "\"}")}) {
    std::string claims =
        absl::StrCat(R"({"sub":)", sub, R"(,"iss":")", kIssuer, R"(","aud":")",
                     kAudience, R"(","exp":)", Now() + 600, "}");
    ExpectRefused(Signed(claims), "sub " + sub);
  }
}

// Duplicate claims: whatever the parser keeps, the identity the sender is
// compared with must be the one that was validated. RFC 7519 section 4: a
// duplicate is refused or the lexically last one is used.
TEST_F(JwtAttack, DuplicateClaimsDoNotSplitTheIdentity) {
  const std::string both = absl::StrCat(
      R"({"sub":")", kAlice, R"(","iss":")", kIssuer, R"(","aud":")", kAudience,
      R"(","exp":)", Now() + 600, R"(,"sub":")", kBob, R"("})");
  EXPECT_FALSE(Call(Signed(both), kAlice).Served())
      << "the first of two subs was used";
  // A duplicate exp whose last value is past must not be honoured for its
  // first value.
  const std::string exps = absl::StrCat(
      R"({"sub":")", kAlice, R"(","iss":")", kIssuer, R"(","aud":")", kAudience,
      R"(","exp":)", Now() + 600, R"(,"exp":)", Now() - 600, "}");
  ExpectRefused(Signed(exps), "duplicate exp, last expired");
  // Duplicate alg in the header: "none" last.
  ExpectRefused(SignedJws(R"({"alg":"HS256","alg":"none"})", Claims(),
                          Keys().hs256_secret),
                "duplicate alg");
}

TEST_F(JwtAttack, ShapeAndSplicingTricksAreRefused) {
  const std::string good = Signed(Claims());
  const std::string bob = Signed(Claims("", true, kBob));
  std::vector<std::string> parts = absl::StrSplit(good, '.');
  std::vector<std::string> bob_parts = absl::StrSplit(bob, '.');
  ASSERT_EQ(parts.size(), 3u);
  ExpectRefused(absl::StrCat(parts[0], ".", bob_parts[1], ".", parts[2]),
                "alice's signature on bob's claims");
  ExpectRefused(absl::StrCat(good, ".x"), "four segments");
  ExpectRefused(absl::StrCat(good, "="), "padding");
  ExpectRefused(absl::StrCat(parts[0], ".", parts[1], "."), "stripped sig");
  ExpectRefused(absl::StrCat(parts[0], "..", parts[2]), "empty payload");
  ExpectRefused(absl::StrCat(parts[0], ".", parts[1], ".", parts[2], parts[2]),
                "doubled signature");
  std::string standard_b64 = good;
  absl::StrReplaceAll({{"-", "+"}, {"_", "/"}}, &standard_b64);
  if (standard_b64 != good) ExpectRefused(standard_b64, "standard base64");
  // Validly signed but larger than kMaxJwtBytes.
  ExpectRefused(
      Signed(Claims(absl::StrCat(",\"pad\":\"", std::string(9000, 'p'), "\""))),
      "9 KB token");
  // The server is unharmed.
  EXPECT_TRUE(Call(good).Served());
}

// =============================================================================
// 4. Rate-limit evasion
// =============================================================================

// Every envelope of a batch counts, on both bindings.
TEST_P(BindingTest, BatchesCountEveryEnvelope) {
  std::unique_ptr<AsapServer> server = StartServer(Limit(3, absl::Minutes(1)));
  ASSERT_NE(server, nullptr);
  std::unique_ptr<AsapClient> client =
      Client(Target(*server, GetParam()), kAliceToken);
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < 8; ++i) {
    batch.push_back(EchoRequest(absl::StrCat("b", i), kAlice));
  }
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(std::move(batch));
  ASSERT_TRUE(results.ok()) << results.status();
  int served = 0;
  int limited = 0;
  for (const absl::StatusOr<v1::Envelope>& result : *results) {
    if (result.ok()) {
      ++served;
    } else if (ErrorCodeOf(result.status()) == ErrorCode::kRateLimited) {
      ++limited;
    }
  }
  EXPECT_EQ(served, 3);
  EXPECT_EQ(limited, 5);
}

// Refused envelopes (spoofed senders) still cost the caller: probing for
// free is not possible. And nobody can drain another agent's bucket: neither
// an anonymous caller naming her as sender, nor another agent doing so.
TEST_P(BindingTest, BucketsBelongToTheAuthenticatedCallerOnly) {
  std::unique_ptr<AsapServer> server = StartServer(Limit(2, absl::Minutes(1)));
  ASSERT_NE(server, nullptr);
  const std::string target = Target(*server, GetParam());
  std::unique_ptr<AsapClient> anonymous = Client(target, "");
  std::unique_ptr<AsapClient> bob = Client(target, kBobToken);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ErrorCodeOf(anonymous->Send(EchoRequest("a", kAlice)).status()),
              ErrorCode::kUnauthenticated);
  }
  // Bob spends his two tokens on envelopes that claim to be alice's...
  EXPECT_EQ(ErrorCodeOf(bob->Send(EchoRequest("s1", kAlice)).status()),
            ErrorCode::kSenderMismatch);
  EXPECT_EQ(ErrorCodeOf(bob->Send(EchoRequest("s2", kAlice)).status()),
            ErrorCode::kSenderMismatch);
  // ... so his own envelope is over his limit,
  EXPECT_EQ(ErrorCodeOf(bob->Send(EchoRequest("own", kBob)).status()),
            ErrorCode::kRateLimited);
  // and alice still has her whole bucket.
  std::unique_ptr<AsapClient> alice = Client(target, kAliceToken);
  EXPECT_TRUE(alice->Send(EchoRequest("1", kAlice)).ok());
  EXPECT_TRUE(alice->Send(EchoRequest("2", kAlice)).ok());
}

// Without authentication the bucket is the client's address: new source
// ports, new connections, the other binding, or forwarded-for headers do not
// give a new one.
TEST(RateLimitAttack, OneAddressIsOneBucketWhateverPortBindingOrHeader) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.rate_limit = Limit(3, absl::Minutes(1));
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  std::unique_ptr<AsapClient> grpc = Client(server->address(), "");
  ASSERT_TRUE(grpc->Send(EchoRequest("g1", kAlice)).ok());
  CurlOptions fresh;
  fresh.fresh_connection = true;
  fresh.body = JsonRpcSendBody(kAlice);
  EXPECT_TRUE(Curl(url, fresh).Served());
  EXPECT_TRUE(Curl(url, fresh).Served());
  // The address's three tokens are gone.
  for (const std::string& header :
       {std::string("X-Forwarded-For: 10.1.2.3"),
        std::string("X-Real-IP: 10.1.2.4"),
        std::string("Forwarded: for=10.1.2.5"), std::string("X-Other: 1")}) {
    CurlOptions spoofed = fresh;
    spoofed.headers = {header};
    RawAnswer answer = Curl(url, spoofed);
    EXPECT_EQ(answer.status, 429) << header << ": " << answer.body;
  }
  std::unique_ptr<AsapClient> another_channel = Client(server->address(), "");
  EXPECT_EQ(
      ErrorCodeOf(another_channel->Send(EchoRequest("g2", kAlice)).status()),
      ErrorCode::kRateLimited);
}

// The same over IPv6 loopback: the gRPC peer string ("ipv6:%5B::1%5D:port")
// and the HTTP one ("ipv6:[::1]:port") must give the same bucket.
TEST(RateLimitAttack, Ipv6ClientHasOneBucketOnBothBindings) {
  ServerOptions options;
  options.address = "[::1]:0";
  options.http_address = "[::1]:0";
  options.manifest = asap::EchoManifest("");
  options.rate_limit = Limit(1, absl::Minutes(1));
  absl::StatusOr<std::unique_ptr<AsapServer>> server =
      AsapServer::Start(std::move(options), asap::EchoHandlers());
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback: " << server.status();
  std::unique_ptr<AsapClient> grpc =
      Client(absl::StrCat("ipv6:[::1]:", (*server)->port()), "");
  absl::StatusOr<v1::Envelope> first = grpc->Send(EchoRequest("g", kAlice));
  if (!first.ok() && ErrorCodeOf(first.status()) == ErrorCode::kUnavailable) {
    GTEST_SKIP() << "cannot reach [::1]: " << first.status();
  }
  ASSERT_TRUE(first.ok()) << first.status();
  CurlOptions http;
  http.body = JsonRpcSendBody(kAlice);
  RawAnswer answer = Curl(
      absl::StrCat("http://[::1]:", (*server)->http_port(), "/asap"), http);
  if (answer.curl != CURLE_OK) GTEST_SKIP() << "curl cannot reach [::1]";
  EXPECT_EQ(answer.status, 429)
      << "one IPv6 client got a second bucket on the other binding: "
      << answer.body;
}

// Cycling source addresses (all of 127/8 is loopback) neither escapes the
// limit nor grows the table past max_callers.
TEST(RateLimitAttack, CyclingAddressesDoesNotEscapeTheLimit) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.rate_limit = Limit(1, absl::Minutes(1));
  options.rate_limit.max_callers = 8;
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap");
  int served = 0;
  int reached = 0;
  for (int i = 2; i < 42; ++i) {
    CurlOptions from;
    from.fresh_connection = true;
    from.interface = absl::StrCat("host!127.0.0.", i);
    from.body = JsonRpcSendBody(kAlice);
    RawAnswer answer = Curl(url, from);
    if (answer.curl != CURLE_OK) continue;
    ++reached;
    served += answer.Served();
  }
  if (reached < 30) GTEST_SKIP() << "cannot bind to 127.0.0.x addresses";
  // 8 table entries and one shared overflow token.
  EXPECT_LE(served, 9) << "of " << reached;
}

// POST /asap/stream opens a stream-log slot before the envelope is admitted:
// a caller over its rate limit must not be able to fill the server's stream
// log (max_streams, held for `grace`) and lock every other agent out.
TEST(RateLimitAttack, RateLimitedStreamsDoNotHoldStreamLogSlots) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.auth.token_validator = Validators();
  options.rate_limit = Limit(1, absl::Minutes(1));
  options.http.stream_log.max_streams = 4;
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap/stream");
  auto stream = [&](const char* token, const char* sender) {
    CurlOptions options;
    options.headers = {Bearer(token), "Accept: text/event-stream"};
    options.body = JsonRpcSendBody(sender);
    return Curl(url, options);
  };
  RawAnswer first = stream(kAliceToken, kAlice);
  ASSERT_EQ(first.status, 200) << first.body;
  // Alice is over her limit from here on: each call is refused...
  for (int i = 0; i < 6; ++i) {
    RawAnswer refused = stream(kAliceToken, kAlice);
    EXPECT_FALSE(absl::StrContains(refused.body, "\"result\"")) << i;
  }
  // ... yet bob, well within his own limit, must still get a stream.
  RawAnswer bob = stream(kBobToken, kBob);
  EXPECT_EQ(bob.status, 200)
      << "an agent over its rate limit filled the stream log: " << bob.body;
  EXPECT_THAT(bob.body, HasSubstr("data: "));
  EXPECT_THAT(bob.body, Not(HasSubstr("event: error")));
}

// Bounded memory in the JWT cache, whatever the number of valid tokens.
TEST(MemoryAttack, JwtCacheStaysBounded) {
  JwtOptions options;
  options.key = Keys().hs256_secret;
  options.cache_entries = 16;
  absl::StatusOr<std::unique_ptr<JwtValidator>> validator =
      JwtValidator::Create(std::move(options));
  ASSERT_TRUE(validator.ok());
  for (int i = 0; i < 200; ++i) {
    std::string token =
        SignedJws(kHs256Header,
                  absl::StrCat(R"({"sub":")", kAlice, R"(","exp":)",
                               Now() + 600, R"(,"jti":")", i, "\"}"),
                  Keys().hs256_secret);
    ASSERT_TRUE((*validator)->Validate(token).ok());
    ASSERT_LE((*validator)->cached_tokens(), 16u);
  }
}

// =============================================================================
// 5. Streams, metrics, reflection
// =============================================================================

// Resuming another agent's stream looks exactly like resuming one that does
// not exist (no oracle for ids), and ids are 128 random bits.
TEST(StreamAttack, OthersStreamsAreIndistinguishableFromMissingOnes) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("http://", server->http_address(), "/asap/stream");
  auto open = [&]() {
    CurlOptions options;
    options.headers = {Bearer(kAliceToken), "Accept: text/event-stream"};
    options.body = JsonRpcSendBody(kAlice);
    RawAnswer opened = Curl(url, options);
    size_t at = opened.body.find("id: ");
    if (at == std::string::npos) return std::string();
    std::string event_id =
        opened.body.substr(at + 4, opened.body.find('\n', at) - at - 4);
    return event_id.substr(0, event_id.find('-'));
  };
  const std::string id = open();
  const std::string other = open();
  ASSERT_EQ(id.size(), 32u) << id;
  EXPECT_NE(id, other);
  for (char c : id) {
    EXPECT_TRUE(absl::ascii_isxdigit(static_cast<unsigned char>(c)) &&
                !absl::ascii_isupper(static_cast<unsigned char>(c)))
        << id;
  }
  auto resume = [&](const std::string& stream, bool post) {
    CurlOptions options;
    options.headers = {Bearer(kBobToken),
                       absl::StrCat("Last-Event-ID: ", stream, "-0")};
    if (post) options.body = JsonRpcSendBody(kBob);
    RawAnswer answer = Curl(url, options);
    answer.body = absl::StrReplaceAll(answer.body, {{stream, "ID"}});
    return answer;
  };
  const std::string missing(32, 'a');
  for (bool post : {false, true}) {
    RawAnswer others = resume(id, post);
    RawAnswer nothing = resume(missing, post);
    EXPECT_EQ(others.status, 404) << others.body;
    EXPECT_EQ(others.status, nothing.status);
    EXPECT_EQ(others.body, nothing.body);
    EXPECT_THAT(others.body, Not(HasSubstr("data: ")));
  }
  // Without credentials: refused before the id is looked at.
  CurlOptions anonymous;
  anonymous.headers = {absl::StrCat("Last-Event-ID: ", id, "-0")};
  RawAnswer refused = Curl(url, anonymous);
  EXPECT_THAT(refused.body, HasSubstr(R"("status_code":401)"));
  EXPECT_THAT(refused.body, Not(HasSubstr("data: ")));
}

TEST(ExposureAttack, MetricsAreNotReachableWithoutValidCredentials) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  // Some traffic for the metrics to describe.
  ASSERT_TRUE(Client(server->address(), kAliceToken)
                  ->Send(EchoRequest("m", kAlice))
                  .ok());
  const std::string base = absl::StrCat("http://", server->http_address());
  struct Case {
    std::string path;
    std::vector<std::string> headers;
    bool head = false;
    bool h2 = false;
  };
  const std::vector<Case> cases = {
      {"/asap/metrics", {}},
      {"/asap/metrics", {"Authorization: Basic YWxpY2U6cGFzcw=="}},
      {"/asap/metrics", {Bearer("unknown-token-0123456789")}},
      {"/asap/metrics", {"Authorization: Bearer"}},
      {"/asap/metrics?format=prometheus", {}},
      {"/asap/metrics#x", {}},
      {"/asap/metrics", {}, /*head=*/true},
      {"/asap/metrics", {}, false, /*h2=*/true},
      {"/asap/metrics/", {}},
      {"//asap/metrics", {}},
      {"/asap/./metrics", {}},
      {"/ASAP/METRICS", {}},
  };
  for (const Case& c : cases) {
    CurlOptions options;
    options.headers = c.headers;
    options.head = c.head;
    options.http2_prior_knowledge = c.h2;
    RawAnswer answer = Curl(base + c.path, options);
    EXPECT_NE(answer.status, 200) << c.path;
    EXPECT_THAT(answer.body, Not(HasSubstr("# TYPE"))) << c.path;
    EXPECT_THAT(answer.body, Not(HasSubstr("asap_"))) << c.path;
  }
}

// Reflection is off with authentication on, under both service names.
TEST(ExposureAttack, ReflectionIsAbsentUnderEveryName) {
  std::unique_ptr<AsapServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(server->address(),
                                     grpc::InsecureChannelCredentials());
  for (const char* name :
       {testing::kReflectionV1Alpha, testing::kReflectionV1}) {
    testing::ReflectionListing listing = testing::ListServices(channel, name);
    EXPECT_EQ(listing.responses, 0) << name;
    EXPECT_EQ(listing.status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
        << name;
  }
}

// =============================================================================
// 6. TLS: plaintext downgrade and mutual-TLS identities
// =============================================================================

class TlsAttack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> dir =
        testing::MakeTestCerts("security_attack_certs");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new std::string(*std::move(dir));
    // Client certificates from the same (trusted) CA, with unusual SANs.
    const std::vector<std::pair<std::string, std::string>> certificates = {
        {"alice", "URI:urn:asap:agent:alice"},
        {"dns_bob", "DNS:urn:asap:agent:bob"},
        {"email_bob", "email:urn:asap:agent:bob"},
        {"two_agents", "URI:urn:asap:agent:alice,URI:urn:asap:agent:bob"},
        {"hidden_second_agent", HiddenSecondAgentSan()},
        {"no_agent", "URI:https://client.test/x,DNS:client.test"},
    };
    for (const auto& [name, san] : certificates) {
      const std::string command = absl::StrCat(
          "cd ", *dir_, " && openssl genpkey -algorithm EC -pkeyopt ",
          "ec_paramgen_curve:P-256 -out ", name, ".key 2>/dev/null && ",
          "openssl req -new -key ", name, ".key -out ", name,
          ".csr -subj '/CN=", name, "' -addext 'subjectAltName=", san,
          "' -addext 'extendedKeyUsage=clientAuth' ",
          "-addext 'basicConstraints=CA:FALSE' 2>/dev/null && ",
          "openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key ",
          "-notext -in ", name, ".csr -out ", name, ".pem -days 2 ",
          ">/dev/null 2>&1");
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  // Agent alice first, then 15 non-agent URIs, then agent bob: 17 URIs, so
  // bob is past the first 16 names either binding looks at.
  static std::string HiddenSecondAgentSan() {
    std::string san = "URI:urn:asap:agent:alice";
    for (int i = 0; i < 15; ++i) {
      absl::StrAppend(&san, ",URI:https://client.test/", i);
    }
    absl::StrAppend(&san, ",URI:urn:asap:agent:bob");
    return san;
  }
  static std::string File(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }

  // Both listeners with TLS; `mutual`: client certificates name the agent.
  static std::unique_ptr<AsapServer> Server(bool mutual) {
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    options.tls.cert_file = File("server.pem");
    options.tls.key_file = File("server.key");
    if (mutual) {
      options.tls.client_ca_file = File("ca.pem");
      options.auth.client_certificates = true;
    }
    options.auth.token_validator = Validators();
    return testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  }

  static absl::StatusOr<v1::Envelope> Send(const AsapServer& server,
                                           Binding binding,
                                           const std::string& certificate,
                                           const std::string& token,
                                           const std::string& sender) {
    ClientOptions options;
    options.target = binding == Binding::kGrpc
                         ? server.address()
                         : absl::StrCat("https://", server.http_address());
    options.tls.enabled = true;
    options.tls.ca_file = File("ca.pem");
    if (!certificate.empty()) {
      options.tls.cert_file = File(certificate + ".pem");
      options.tls.key_file = File(certificate + ".key");
    }
    if (!token.empty()) options.token_provider = StaticToken(token);
    options.rate_limit_retries = 0;
    options.http.retry.max_retries = 0;
    options.timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<AsapClient>> client =
        AsapClient::Create(std::move(options));
    if (!client.ok()) return client.status();
    return (*client)->Send(EchoRequest("mtls", sender));
  }

  static std::string* dir_;
};

std::string* TlsAttack::dir_ = nullptr;

TEST_F(TlsAttack, PlaintextIsRefusedEvenWithAValidToken) {
  std::unique_ptr<AsapServer> server = Server(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  // HTTP/1.1 and h2c in clear to the HTTPS port.
  for (bool h2 : {false, true}) {
    CurlOptions options;
    options.headers = {Bearer(kAliceToken)};
    options.body = JsonRpcSendBody(kAlice);
    options.http2_prior_knowledge = h2;
    RawAnswer answer =
        Curl(absl::StrCat("http://", server->http_address(), "/asap"), options);
    EXPECT_FALSE(answer.Served()) << "h2=" << h2 << ": " << answer.body;
  }
  EXPECT_FALSE(GrpcSend(server->address(),
                        {absl::StrCat("Bearer ", kAliceToken)}, kAlice)
                   .ok());
  // Control: over TLS the same token works on both bindings.
  for (Binding binding : {Binding::kGrpc, Binding::kHttp}) {
    absl::StatusOr<v1::Envelope> ok =
        Send(*server, binding, "", kAliceToken, kAlice);
    EXPECT_TRUE(ok.ok()) << BindingName(binding) << ": " << ok.status();
  }
}

class MutualTlsAttack : public TlsAttack,
                        public ::testing::WithParamInterface<Binding> {};

TEST_P(MutualTlsAttack, UriSanNamesTheAgentAndOnlyThatAgent) {
  std::unique_ptr<AsapServer> server = Server(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<v1::Envelope> own =
      Send(*server, GetParam(), "alice", "", kAlice);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(EchoedText(*own), "mtls");
  EXPECT_EQ(ErrorCodeOf(Send(*server, GetParam(), "alice", "", kBob).status()),
            ErrorCode::kSenderMismatch);
  // Certificate and token naming different agents.
  EXPECT_EQ(
      ErrorCodeOf(Send(*server, GetParam(), "alice", kBobToken, kBob).status()),
      ErrorCode::kUnauthenticated);
}

// Only a URI SAN names an agent. A DNS name or an e-mail address that reads
// "urn:asap:agent:bob" (a CA that issues DNS names on request need not check
// that one is a host name) must not make the caller bob, on either binding.
TEST_P(MutualTlsAttack, NonUriSansNeverNameAnAgent) {
  std::unique_ptr<AsapServer> server = Server(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  for (const char* certificate : {"dns_bob", "email_bob"}) {
    absl::StatusOr<v1::Envelope> result =
        Send(*server, GetParam(), certificate, "", kBob);
    EXPECT_FALSE(result.ok()) << certificate << " authenticated as bob over "
                              << BindingName(GetParam());
    if (!result.ok()) {
      EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnauthenticated)
          << certificate << ": " << result.status();
    }
  }
}

// A certificate naming two agents is refused, wherever the second one is.
TEST_P(MutualTlsAttack, CertificatesNamingTwoAgentsAreRefused) {
  std::unique_ptr<AsapServer> server = Server(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  for (const char* certificate : {"two_agents", "hidden_second_agent"}) {
    for (const char* sender : {kAlice, kBob}) {
      absl::StatusOr<v1::Envelope> result =
          Send(*server, GetParam(), certificate, "", sender);
      EXPECT_FALSE(result.ok()) << certificate << " served as " << sender
                                << " over " << BindingName(GetParam());
    }
  }
}

TEST_P(MutualTlsAttack, CertificateWithoutAgentNeedsAToken) {
  std::unique_ptr<AsapServer> server = Server(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(
      ErrorCodeOf(Send(*server, GetParam(), "no_agent", "", kAlice).status()),
      ErrorCode::kUnauthenticated);
  // With a token, the token names the agent.
  absl::StatusOr<v1::Envelope> with_token =
      Send(*server, GetParam(), "no_agent", kAliceToken, kAlice);
  EXPECT_TRUE(with_token.ok()) << with_token.status();
}

// A reload that fails must change nothing (docs/SECURITY.md; `asap serve`
// prints "kept the old certificates"). Here the client CA file is replaced by
// PEM data that is not a certificate (an operator copying the wrong file):
// the reload is refused, and both listeners must keep accepting mutual-TLS
// clients. gRPC picks files up within ReloadableTls::kRefreshSeconds, so the
// invariant is checked with fresh handshakes for a few seconds (a bounded
// observation window, not a synchronisation sleep).
TEST_F(TlsAttack, FailedReloadKeepsServingTheOldCertificates) {
  const std::string ca = File("reload_ca.pem");
  ASSERT_EQ(std::system(absl::StrCat("cp ", File("ca.pem"), " ", ca).c_str()),
            0);
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.tls.cert_file = File("server.pem");
  options.tls.key_file = File("server.key");
  options.tls.client_ca_file = ca;
  options.auth.client_certificates = true;
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  for (Binding binding : {Binding::kGrpc, Binding::kHttp}) {
    ASSERT_TRUE(Send(*server, binding, "alice", "", kAlice).ok());
  }
  ASSERT_EQ(std::system(absl::StrCat("cp ", File("ca.key"), " ", ca).c_str()),
            0);
  absl::Status reload = server->ReloadTls();
  EXPECT_FALSE(reload.ok()) << "a CA file without a certificate was taken";
  const absl::Time until =
      absl::Now() + absl::Seconds(3 * ReloadableTls::kRefreshSeconds);
  int attempts = 0;
  while (absl::Now() < until) {
    ++attempts;
    for (Binding binding : {Binding::kGrpc, Binding::kHttp}) {
      absl::StatusOr<v1::Envelope> result =
          Send(*server, binding, "alice", "", kAlice);
      ASSERT_TRUE(result.ok())
          << "after a refused reload, " << BindingName(binding)
          << " stopped accepting clients (attempt " << attempts
          << "): " << result.status();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Bindings, BindingTest,
                         ::testing::Values(Binding::kGrpc, Binding::kHttp),
                         testing::BindingParamName);
INSTANTIATE_TEST_SUITE_P(Bindings, MutualTlsAttack,
                         ::testing::Values(Binding::kGrpc, Binding::kHttp),
                         testing::BindingParamName);

}  // namespace
}  // namespace asap
