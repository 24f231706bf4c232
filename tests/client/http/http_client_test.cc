// AsapClient over ASAP's HTTP binding: against the reference-shaped Python
// agent (a non-asap ASAP agent, HTTP/1.1, v1.0) and against asap's own HTTP
// server (h2c, v2).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "asap/time/fake_clock.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "tests/client/http/reference_agent.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"
#include "tests/testing/test_client.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::asap::testing::CreateTestClient;
using ::asap::testing::EchoedText;
using ::asap::testing::EchoRequest;
using ::asap::testing::ReferenceAgent;

ClientOptions OptionsFor(const std::string& target) {
  return testing::ShortBackoffOptions(target, absl::Milliseconds(20));
}

// A request for the reference agent's special skills.
v1::Envelope SkillRequest(const std::string& skill, int sleep_ms = 0) {
  v1::Envelope request = EchoRequest("x");
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields["skill_id"].set_string_value(skill);
  if (sleep_ms > 0) {
    (*fields["input"].mutable_struct_value()->mutable_fields())["ms"]
        .set_number_value(sleep_ms);
  }
  return request;
}

std::optional<ErrorCode> CodeOf(const absl::StatusOr<v1::Envelope>& result) {
  return ErrorCodeOf(result.status());
}

class ReferenceAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = ReferenceAgent::Start();
    ASSERT_NE(agent_, nullptr);
  }
  std::unique_ptr<ReferenceAgent> agent_;
};

TEST_F(ReferenceAgentTest, SendsOverHttp1KeepAliveWithTheReferenceHeaders) {
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(agent_->url()));
  ASSERT_NE(client, nullptr);
  v1::Envelope request = EchoRequest("hello");
  request.set_id(NewUlid());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(EchoedText(*response), "hello");
    EXPECT_EQ(response->correlation_id(), request.id());
    request.set_id(NewUlid());
  }
  AsapClient::HttpStats stats = client->http_stats();
  EXPECT_EQ(stats.protocol, "http/1.1");  // it refused HTTP/2
  EXPECT_EQ(stats.server_version, "1.0");
  // One connection for the HTTP/2 question, one kept alive for the sends.
  EXPECT_EQ(agent_->Stat("connections"), 2);
  EXPECT_EQ(agent_->LastHeader("content-type"), "application/json");
  EXPECT_EQ(agent_->LastHeader("x-idempotency-key").size(), 26u);
  EXPECT_EQ(agent_->LastHeader("accept-encoding"), "br, gzip");
}

TEST_F(ReferenceAgentTest, JsonRpcErrorsMapToTheAsapCodesOfGrpc) {
  ClientOptions options = OptionsFor(agent_->url());
  options.validate_before_send = false;  // let the server judge
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);

  v1::Envelope old = EchoRequest("x");
  old.set_id(NewUlid());
  old.set_timestamp("2020-01-01T00:00:00Z");
  EXPECT_EQ(CodeOf(client->Send(old)), ErrorCode::kInvalidTimestamp);

  v1::Envelope nonce = EchoRequest("x");
  (*nonce.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
      "n-1");
  EXPECT_TRUE(client->Send(nonce).ok());
  nonce.clear_id();
  EXPECT_EQ(CodeOf(client->Send(nonce)), ErrorCode::kInvalidNonce);

  v1::Envelope no_sender = EchoRequest("x");
  no_sender.clear_sender();
  EXPECT_EQ(CodeOf(client->Send(no_sender)), ErrorCode::kMalformedEnvelope);

  v1::Envelope unhandled = EchoRequest("x");
  unhandled.set_payload_type("task.cancel");
  (*unhandled.mutable_payload()->mutable_fields())["task_id"].set_string_value(
      "t-1");
  EXPECT_EQ(CodeOf(client->Send(unhandled)), ErrorCode::kHandlerNotFound);

  EXPECT_EQ(CodeOf(client->Send(SkillRequest("fail"))), ErrorCode::kInternal);
}

TEST_F(ReferenceAgentTest, OversizedBodyIsPayloadTooLarge) {
  ClientOptions options = OptionsFor(agent_->url());
  options.compression.algorithm = Compression::kNone;
  options.max_message_bytes = 32 * 1024 * 1024;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::Envelope> response =
      client->Send(EchoRequest(std::string(11 * 1024 * 1024, 'a')));
  EXPECT_EQ(CodeOf(response), ErrorCode::kPayloadTooLarge) << response.status();
}

TEST_F(ReferenceAgentTest, RateLimitedCallWaitsForRetryAfter) {
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(agent_->url()));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(EchoRequest("warm")).ok());
  agent_->Fault(R"({"status": 429, "retry_after": 1, "count": 1})");
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("again"));
  ASSERT_TRUE(response.ok()) << response.status();
  // The retry went out only after the second the server asked for.
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(client->http_stats().retries, 1u);
  EXPECT_EQ(agent_->Stat("asap_requests"), 3);
}

TEST_F(ReferenceAgentTest, RetryAfterPastTheLimitFailsAtOnce) {
  ClientOptions options = OptionsFor(agent_->url());
  options.http.retry.max_retry_after = absl::Milliseconds(500);
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  agent_->Fault(R"({"status": 429, "retry_after": 30, "count": 1})");
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"));
  EXPECT_EQ(CodeOf(response), ErrorCode::kRateLimited) << response.status();
  EXPECT_EQ(client->http_stats().retries, 0u);
}

TEST_F(ReferenceAgentTest, ServiceUnavailableIsRetriedWithBackoff) {
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(agent_->url()));
  ASSERT_NE(client, nullptr);
  agent_->Fault(R"({"status": 503, "count": 2})");
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(client->http_stats().retries, 2u);

  // More failures than retries: the last answer's error.
  agent_->Fault(R"({"status": 503, "count": 10})");
  response = client->Send(EchoRequest("y"));
  EXPECT_EQ(CodeOf(response), ErrorCode::kUnavailable) << response.status();
  EXPECT_EQ(client->http_stats().retries, 2u + 3u);
}

TEST_F(ReferenceAgentTest, ClientErrorsAreNotRetried) {
  ClientOptions options = OptionsFor(agent_->url());
  options.validate_before_send = false;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  v1::Envelope bad = EchoRequest("x");
  bad.clear_recipient();
  EXPECT_EQ(CodeOf(client->Send(bad)), ErrorCode::kMalformedEnvelope);
  EXPECT_EQ(client->http_stats().retries, 0u);
}

TEST_F(ReferenceAgentTest, ServerClosingKeepAliveConnectionsLosesNothing) {
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(agent_->url()));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(EchoRequest("warm")).ok());
  // Closes announced with Connection: close, then closes that are not.
  agent_->Fault(R"({"close": "header", "count": 3})");
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::Envelope> response =
        client->Send(EchoRequest(absl::StrCat("h", i)));
    ASSERT_TRUE(response.ok()) << i << ": " << response.status();
    EXPECT_EQ(EchoedText(*response), absl::StrCat("h", i));
  }
  agent_->Fault(R"({"close": "silent", "count": 3})");
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::Envelope> response =
        client->Send(EchoRequest(absl::StrCat("s", i)));
    ASSERT_TRUE(response.ok()) << i << ": " << response.status();
    EXPECT_EQ(EchoedText(*response), absl::StrCat("s", i));
  }
  // Every request ran once: nothing was lost or sent twice.
  EXPECT_EQ(agent_->Stat("asap_requests"), 11);
  EXPECT_GE(agent_->Stat("connections"), 2 + 6);
}

TEST_F(ReferenceAgentTest, ServerVanishingMidBatchAccountsForEveryEnvelope) {
  ClientOptions options = OptionsFor(agent_->url());
  options.http.retry.max_retries = 1;
  options.pool.pool_maxsize = 8;
  options.pool.pool_connections = 8;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(EchoRequest("warm")).ok());
  agent_->Fault(R"({"die_after": 20})");
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(EchoRequest(absl::StrCat("b", i)));
  }
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(batch, {});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 100u);
  int answered = 0;
  for (size_t i = 0; i < results->size(); ++i) {
    const absl::StatusOr<v1::Envelope>& result = (*results)[i];
    if (result.ok()) {
      ++answered;
      EXPECT_EQ(EchoedText(*result), absl::StrCat("b", i));
    } else {
      EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnavailable)
          << i << ": " << result.status();
    }
  }
  // The answers the server gave before it went away: about the 20 it was
  // told to give. Its other threads may write a few more in the same
  // instant, and an answer written just before the exit can be lost to the
  // connection's reset (the client then reports that envelope unavailable).
  EXPECT_GT(answered, 0);
  EXPECT_LE(answered, 20 + 8);
  std::string how;
  EXPECT_FALSE(agent_->process().Running(&how));
}

TEST_F(ReferenceAgentTest, PoolTimeoutIsPoolExhausted) {
  ClientOptions options = OptionsFor(agent_->url());
  options.pool.pool_maxsize = 2;
  options.pool.pool_connections = 2;
  options.pool.pool_timeout = absl::Milliseconds(200);
  options.http.protocol = HttpProtocol::kHttp1;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  absl::BlockingCounter slow_done(2);
  for (int i = 0; i < 2; ++i) {
    client->SendAsync(SkillRequest("sleep", 3000),
                      [&](absl::StatusOr<v1::Envelope> response) {
                        EXPECT_TRUE(response.ok()) << response.status();
                        slow_done.DecrementCount();
                      });
  }
  absl::StatusOr<v1::Envelope> third = client->Send(EchoRequest("x"));
  EXPECT_EQ(CodeOf(third), ErrorCode::kPoolExhausted) << third.status();
  EXPECT_EQ(client->pool_stats().timeouts, 1u);
  slow_done.Wait();
  // Capacity is back once the slow calls are answered.
  EXPECT_TRUE(client->Send(EchoRequest("y")).ok());
  EXPECT_LE(agent_->Stat("connections"), 2);
}

TEST(ReferenceAgentManifestTest, ExpiredManifestIsRevalidatedWith304) {
  std::unique_ptr<ReferenceAgent> agent = ReferenceAgent::Start();
  ASSERT_NE(agent, nullptr);
  FakeClock clock;
  ClientOptions options = OptionsFor(agent->url());
  options.manifest_cache.clock = &clock;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::Manifest> first = client->GetManifest();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->id(), "urn:asap:agent:reference");
  ASSERT_TRUE(client->GetManifest().ok());  // fresh: no request
  EXPECT_EQ(agent->Stat("manifest_200"), 1);
  EXPECT_EQ(agent->Stat("manifest_304"), 0);

  clock.Advance(absl::Minutes(5));  // the 5-minute TTL ends
  absl::StatusOr<v1::Manifest> again = client->GetManifest();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(agent->Stat("manifest_200"), 1);
  EXPECT_EQ(agent->Stat("manifest_304"), 1);
  EXPECT_EQ(client->http_stats().manifest_not_modified, 1u);
  EXPECT_EQ(client->manifest_cache()->stats().revalidations, 1u);
  ASSERT_TRUE(client->GetManifest().ok());  // fresh again
  EXPECT_EQ(agent->Stat("manifest_304"), 1);
}

TEST(ReferenceAgentManifestTest, ShorterMaxAgeEndsTheEntrySooner) {
  std::unique_ptr<ReferenceAgent> agent =
      ReferenceAgent::Start({"--manifest-max-age", "10"});
  ASSERT_NE(agent, nullptr);
  FakeClock clock;
  ClientOptions options = OptionsFor(agent->url());
  options.manifest_cache.clock = &clock;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->GetManifest().ok());
  clock.Advance(absl::Seconds(9));
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->Stat("manifest_304"), 0);
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->Stat("manifest_304"), 1);
  EXPECT_EQ(agent->Stat("manifest_200"), 1);
}

TEST(ReferenceAgentShutdownTest, DestroyingTheClientCancelsCallsInFlight) {
  std::unique_ptr<ReferenceAgent> agent = ReferenceAgent::Start();
  ASSERT_NE(agent, nullptr);
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(agent->url()));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(EchoRequest("warm")).ok());
  std::atomic<int> cancelled{0};
  for (int i = 0; i < 3; ++i) {
    client->SendAsync(SkillRequest("sleep", 5000),
                      [&](absl::StatusOr<v1::Envelope> response) {
                        if (CodeOf(response) == ErrorCode::kCancelled) {
                          ++cancelled;
                        }
                      });
  }
  const absl::Time start = absl::Now();
  client.reset();
  EXPECT_EQ(cancelled.load(), 3);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(HttpTargetTest, MalformedTargetsAreRefused) {
  for (const char* target :
       {"http://", "http://user@host:1", "https://", "http://h:1/p?q=1"}) {
    ClientOptions options;
    options.target = target;
    absl::StatusOr<std::unique_ptr<AsapClient>> client =
        AsapClient::Create(options);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument)
        << target;
  }
}

TEST(HttpTargetTest, UnreachableServerIsUnavailableAfterRetries) {
  ClientOptions options = OptionsFor("http://127.0.0.1:1");
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"));
  EXPECT_EQ(CodeOf(response), ErrorCode::kUnavailable) << response.status();
  EXPECT_EQ(client->http_stats().retries, 3u);
}

// --- against asap's own HTTP server ---------------------------------------

class AsapHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    server_ =
        testing::StartTestServer(asap::EchoHandlers(), std::move(options));
    ASSERT_NE(server_, nullptr);
  }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", server_->http_port());
  }
  std::unique_ptr<AsapServer> server_;
};

// The same calls, whatever the binding: the target alone differs.
absl::Status ExchangeEnvelopes(AsapClient& client) {
  absl::StatusOr<v1::Manifest> manifest = client.GetManifest();
  if (!manifest.ok()) return manifest.status();
  v1::Envelope request = EchoRequest("both bindings");
  request.set_recipient(manifest->id());
  absl::StatusOr<v1::Envelope> response = client.Send(request);
  if (!response.ok()) return response.status();
  if (EchoedText(*response) != "both bindings") {
    return absl::InternalError("wrong echo");
  }
  std::vector<v1::Envelope> batch(10, request);
  absl::StatusOr<AsapClient::BatchResults> results =
      client.SendBatch(std::move(batch));
  if (!results.ok()) return results.status();
  for (const auto& result : *results) {
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

TEST_F(AsapHttpServerTest, SameCodeCallsBothBindings) {
  std::unique_ptr<AsapClient> grpc_client =
      CreateTestClient(OptionsFor(server_->address()));
  std::unique_ptr<AsapClient> http_client = CreateTestClient(OptionsFor(url()));
  ASSERT_NE(grpc_client, nullptr);
  ASSERT_NE(http_client, nullptr);
  EXPECT_TRUE(ExchangeEnvelopes(*grpc_client).ok());
  EXPECT_TRUE(ExchangeEnvelopes(*http_client).ok());
  EXPECT_EQ(http_client->http_stats().protocol, "h2c");
  EXPECT_EQ(grpc_client->http_stats().protocol, "");
}

TEST_F(AsapHttpServerTest, BatchGoesAsV2ArraysOverOneHttp2Connection) {
  std::unique_ptr<AsapClient> client = CreateTestClient(OptionsFor(url()));
  ASSERT_NE(client, nullptr);
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < 120; ++i) {
    batch.push_back(EchoRequest(absl::StrCat("e", i)));
  }
  batch[7].clear_sender();  // one bad envelope does not sink the batch
  absl::StatusOr<AsapClient::BatchResults> results = client->SendBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  for (size_t i = 0; i < results->size(); ++i) {
    if (i == 7) {
      EXPECT_EQ(ErrorCodeOf((*results)[i].status()),
                ErrorCode::kMalformedEnvelope);
      continue;
    }
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(EchoedText(*(*results)[i]), absl::StrCat("e", i));
  }
  AsapClient::HttpStats stats = client->http_stats();
  EXPECT_EQ(stats.protocol, "h2c");
  EXPECT_EQ(stats.server_version, "2.2");
  // The first envelope alone, then 118 in arrays of at most 50.
  EXPECT_EQ(stats.batch_arrays, 3u);
  EXPECT_EQ(stats.connections_opened, 1u);
}

TEST_F(AsapHttpServerTest, BatchWithoutV2IsMultiplexedSingleRequests) {
  ClientOptions options = OptionsFor(url());
  options.http.negotiate_v2 = false;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < 200; ++i) {
    batch.push_back(EchoRequest(absl::StrCat("m", i)));
  }
  absl::StatusOr<AsapClient::BatchResults> results = client->SendBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  for (size_t i = 0; i < results->size(); ++i) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(EchoedText(*(*results)[i]), absl::StrCat("m", i));
  }
  AsapClient::HttpStats stats = client->http_stats();
  EXPECT_EQ(stats.server_version, "1.0");
  EXPECT_EQ(stats.batch_arrays, 0u);
  EXPECT_EQ(stats.requests, 200u);
  // All on the one h2c connection (the question included): more than its
  // 100 streams wait for one rather than open another.
  EXPECT_EQ(stats.connections_opened, 1u);
}

TEST_F(AsapHttpServerTest, ConcurrentSendsOverHttp1StayWithinPoolMaxsize) {
  ClientOptions options = OptionsFor(url());
  options.http.protocol = HttpProtocol::kHttp1;
  options.pool.pool_maxsize = 10;
  options.pool.pool_connections = 10;
  options.pool.pool_timeout = absl::Seconds(10);
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  constexpr int kCalls = 300;
  absl::BlockingCounter done(kCalls);
  std::atomic<int> ok{0};
  for (int i = 0; i < kCalls; ++i) {
    client->SendAsync(EchoRequest("c"), [&](absl::StatusOr<v1::Envelope> r) {
      if (r.ok()) ++ok;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_LE(client->pool_stats().connections_opened, 10u);
  EXPECT_EQ(client->http_stats().protocol, "http/1.1");
}

TEST_F(AsapHttpServerTest, LargeBodiesAreCompressedBothWays) {
  std::unique_ptr<AsapClient> client = CreateTestClient(OptionsFor(url()));
  ASSERT_NE(client, nullptr);
  std::string text;
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&text, "word ", i, " ");
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  AsapClient::CompressionStats stats = client->compression_stats();
  EXPECT_EQ(stats.requests_compressed, 1u);
  EXPECT_LT(stats.request_bytes_sent, stats.request_bytes_raw / 2);
  EXPECT_EQ(stats.responses_compressed, 1u);
  EXPECT_LT(stats.response_bytes_received, stats.response_bytes_raw / 2);
}

TEST_F(AsapHttpServerTest, StreamDeliversIntermediatesThenTheFinalEnvelope) {
  std::unique_ptr<AsapClient> client = CreateTestClient(OptionsFor(url()));
  ASSERT_NE(client, nullptr);
  v1::Envelope request = EchoRequest("");
  request.set_payload_type("echo.stream");
  request.mutable_payload()->clear_fields();
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields["text"].set_string_value("streamed");
  fields["steps"].set_number_value(4);
  std::vector<std::string> types;
  absl::StatusOr<v1::Envelope> final = client->SendStream(
      request,
      [&](const v1::Envelope& e) { types.push_back(e.payload_type()); });
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->payload_type(), "task.response");
  EXPECT_EQ(types, std::vector<std::string>(4, "task.update"));
  EXPECT_FALSE(final->payload().fields().contains("final"));
  // SendStream returns on the final event, maybe before the response has
  // ended; the request is counted already.
  EXPECT_EQ(client->http_stats().requests, 1u);
}

TEST_F(AsapHttpServerTest, V2ErrorsCarryTheirAsapCode) {
  ClientOptions options = OptionsFor(url());
  options.validate_before_send = false;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  v1::Envelope old = EchoRequest("x");
  old.set_timestamp("2020-01-01T00:00:00Z");
  EXPECT_EQ(CodeOf(client->Send(old)), ErrorCode::kInvalidTimestamp);
  v1::Envelope unhandled = EchoRequest("x");
  unhandled.set_payload_type("custom.unhandled");
  EXPECT_EQ(CodeOf(client->Send(unhandled)), ErrorCode::kHandlerNotFound);
}

TEST_F(AsapHttpServerTest, StreamErrorBeforeTheTaskKeepsItsCode) {
  ClientOptions options = OptionsFor(url());
  options.validate_before_send = false;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  v1::Envelope old = EchoRequest("x");
  old.set_timestamp("2020-01-01T00:00:00Z");
  // Answered as a JSON-RPC error, not as an event stream.
  absl::StatusOr<v1::Envelope> final = client->SendStream(old, nullptr);
  EXPECT_EQ(CodeOf(final), ErrorCode::kInvalidTimestamp) << final.status();
}

TEST_F(AsapHttpServerTest, SendAsyncFromItsOwnCallback) {
  std::unique_ptr<AsapClient> client = CreateTestClient(OptionsFor(url()));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(EchoRequest("warm")).ok());
  absl::Notification second_done;
  absl::Status second;
  absl::Status blocking_call;
  client->SendAsync(EchoRequest("first"), [&](absl::StatusOr<v1::Envelope> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    // A call that would wait for this very thread is refused, not hung.
    blocking_call = client->Send(EchoRequest("blocking")).status();
    client->SendAsync(EchoRequest("second"),
                      [&](absl::StatusOr<v1::Envelope> again) {
                        second = again.status();
                        second_done.Notify();
                      });
  });
  second_done.WaitForNotification();
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_EQ(blocking_call.code(), absl::StatusCode::kFailedPrecondition)
      << blocking_call;
}

TEST(AsapHttpOpenerTest, SlowFirstCallDoesNotHoldTheOthers) {
  absl::Notification release;
  // The "slow" call is held by its text, not by arriving first: the two
  // requests reach the handlers in either order.
  HandlerRegistry handlers;
  ASSERT_TRUE(handlers
                  .Register("task.request",
                            [&](const v1::Envelope& request,
                                const v1::Manifest& manifest) {
                              const auto& input = request.payload()
                                                      .fields()
                                                      .at("input")
                                                      .struct_value()
                                                      .fields();
                              if (input.at("text").string_value() == "slow") {
                                release.WaitForNotification();
                              }
                              return EchoTask(request, manifest);
                            })
                  .ok());
  ServerOptions server_options;
  server_options.http_address = "127.0.0.1:0";
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(std::move(handlers), std::move(server_options));
  ASSERT_NE(server, nullptr);
  ClientOptions options =
      OptionsFor(absl::StrCat("http://127.0.0.1:", server->http_port()));
  options.http.protocol = HttpProtocol::kHttp2;  // the first call opens h2c
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  absl::Notification first_done;
  client->SendAsync(EchoRequest("slow"), [&](absl::StatusOr<v1::Envelope> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    first_done.Notify();
  });
  // Answered while the first call's handler still waits: the others go as
  // soon as the connection speaks HTTP/2, not when its first answer ends.
  absl::StatusOr<v1::Envelope> second = client->Send(EchoRequest("quick"));
  EXPECT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(first_done.HasBeenNotified());
  release.Notify();
  first_done.WaitForNotification();
  EXPECT_EQ(client->http_stats().connections_opened, 1u);
}

}  // namespace
}  // namespace asap
