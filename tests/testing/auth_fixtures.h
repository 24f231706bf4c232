// Shared pieces of the authentication tests: two agents with static tokens,
// the validators a secured test server uses, starting such a server, the
// binding a test runs on, and raw HTTP requests (libcurl) for checking the
// HTTP binding's answers byte for byte.
#ifndef ASAP_TESTS_TESTING_AUTH_FIXTURES_H_
#define ASAP_TESTS_TESTING_AUTH_FIXTURES_H_

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "asap/auth/jwt_validator.h"
#include "asap/auth/token_validator.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/jwt_minter.h"

namespace asap::testing {

inline constexpr char kAlice[] = "urn:asap:agent:alice";
inline constexpr char kBob[] = "urn:asap:agent:bob";
inline constexpr char kAliceToken[] = "alice-static-token-0123456789";
inline constexpr char kBobToken[] = "bob-static-token-0123456789ab";
inline constexpr char kIssuer[] = "https://issuer.test";

// A static token table (alice, bob) and a JWT validator for each of
// `algorithms`, keyed from `keys`, requiring kIssuer and `audience`.
std::shared_ptr<const TokenValidator> TestValidators(
    const TestKeys& keys, const std::string& audience,
    const std::vector<JwtOptions::Algorithm>& algorithms = {
        JwtOptions::Algorithm::kHS256});

// A test server (tests/testing/test_server.h) with the HTTP binding on too,
// authenticating callers with `validator` and limited by `rate_limit`. Null,
// with a test failure recorded, when it does not start.
std::unique_ptr<AsapServer> StartAuthServer(
    std::shared_ptr<const TokenValidator> validator,
    RateLimitOptions rate_limit = {},
    HandlerRegistry handlers = asap::EchoHandlers());

// The binding a test parametrized on both runs against.
enum class Binding { kGrpc, kHttp };

// "grpc" or "http".
std::string BindingName(Binding binding);

// BindingName as a test-name suffix:
//   INSTANTIATE_TEST_SUITE_P(Bindings, AuthTest,
//                            ::testing::Values(Binding::kGrpc, Binding::kHttp),
//                            BindingParamName);
std::string BindingParamName(const ::testing::TestParamInfo<Binding>& info);

struct RawAnswer {
  CURLcode curl = CURLE_OK;
  long status = 0;
  std::string headers;  // as received, status line included
  std::string body;

  // A JSON-RPC answer carrying a result.
  bool Served() const;
};

struct CurlOptions {
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // empty: GET (or HEAD with `head`)
  bool head = false;
  bool http2_prior_knowledge = false;
  bool fresh_connection = false;
  std::string interface;  // a local address to connect from
};

// One request with `Content-Type: application/json`, 20 s at most.
RawAnswer Curl(const std::string& url, const CurlOptions& options);

// The body of a JSON-RPC asap.send of an echo task.request from `sender`.
std::string JsonRpcSendBody(const std::string& sender, int id = 7);

// "Authorization: Bearer <token>".
std::string BearerHeader(const std::string& token);

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_AUTH_FIXTURES_H_
