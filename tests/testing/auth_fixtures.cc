#include "tests/testing/auth_fixtures.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asap/auth/static_token_validator.h"
#include "gtest/gtest.h"
#include "tests/testing/test_server.h"

namespace asap::testing {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::unique_ptr<AsapServer> StartAuthServer(
    std::shared_ptr<const TokenValidator> validator,
    RateLimitOptions rate_limit, HandlerRegistry handlers) {
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.auth.token_validator = std::move(validator);
  options.rate_limit = std::move(rate_limit);
  return StartTestServer(std::move(handlers), std::move(options));
}

std::string BindingName(Binding binding) {
  return binding == Binding::kGrpc ? "grpc" : "http";
}

std::string BindingParamName(const ::testing::TestParamInfo<Binding>& info) {
  return BindingName(info.param);
}

std::shared_ptr<const TokenValidator> TestValidators(
    const TestKeys& keys, const std::string& audience,
    const std::vector<JwtOptions::Algorithm>& algorithms) {
  std::vector<std::unique_ptr<TokenValidator>> validators;
  absl::StatusOr<std::unique_ptr<StaticTokenValidator>> table =
      StaticTokenValidator::FromText(
          absl::StrCat(kAliceToken, " ", kAlice, "\n", kBobToken, " ", kBob,
                       "\n"),
          "test tokens");
  EXPECT_TRUE(table.ok()) << table.status();
  if (table.ok()) validators.push_back(*std::move(table));
  for (JwtOptions::Algorithm algorithm : algorithms) {
    JwtOptions jwt;
    jwt.algorithm = algorithm;
    jwt.key = keys.VerifyingKey(algorithm);
    jwt.issuer = kIssuer;
    jwt.audience = audience;
    absl::StatusOr<std::unique_ptr<JwtValidator>> verifier =
        JwtValidator::Create(std::move(jwt));
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    if (verifier.ok()) validators.push_back(*std::move(verifier));
  }
  absl::StatusOr<std::unique_ptr<TokenValidator>> any =
      AnyOfValidators(std::move(validators));
  EXPECT_TRUE(any.ok()) << any.status();
  if (!any.ok()) return nullptr;
  return std::shared_ptr<const TokenValidator>(*std::move(any));
}

bool RawAnswer::Served() const { return absl::StrContains(body, "\"result\""); }

RawAnswer Curl(const std::string& url, const CurlOptions& options) {
  RawAnswer answer;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const std::string& header : options.headers) {
    list = curl_slist_append(list, header.c_str());
  }
  list = curl_slist_append(list, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!options.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.body.c_str());
  }
  if (options.head) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (options.http2_prior_knowledge) {
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                     CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  }
  if (options.fresh_connection) {
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  }
  if (!options.interface.empty()) {
    curl_easy_setopt(curl, CURLOPT_INTERFACE, options.interface.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  answer.curl = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return answer;
}

std::string JsonRpcSendBody(const std::string& sender, int id) {
  return absl::StrCat(
      R"({"jsonrpc":"2.0","method":"asap.send","id":)", id,
      R"(,"params":{"envelope":{"asap_version":"0.1","sender":")", sender,
      R"(","recipient":"urn:asap:agent:echo","payload_type":"task.request",)",
      R"("payload":{"conversation_id":"c1","skill_id":"echo",)",
      R"("input":{"text":"hi"}}}}})");
}

std::string BearerHeader(const std::string& token) {
  return absl::StrCat("Authorization: Bearer ", token);
}

}  // namespace asap::testing
