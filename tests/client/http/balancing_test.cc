// AsapClient with an HTTP target listing several base URLs of one agent,
// against asap's own HTTP servers on 127.0.0.1: calls go round-robin over
// the URLs that are up, a dead URL costs a connection attempt per backoff
// (not one per call), and a retry goes to another URL with the same
// envelope. Also UrlBalancer alone, on a clock the test sets.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "client/http/http_transport.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/closing_listener.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"
#include "tests/testing/test_client.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

using ::asap::internal::UrlBalancer;
using ::asap::testing::CreateTestClient;
using ::asap::testing::EchoRequest;
using ::asap::testing::WaitUntil;

std::string Url(int port) { return absl::StrCat("http://127.0.0.1:", port); }

// "http://127.0.0.1:p1,http://127.0.0.1:p2,..."
std::string Target(const std::vector<int>& ports) {
  std::vector<std::string> urls;
  for (int port : ports) urls.push_back(Url(port));
  return absl::StrJoin(urls, ",");
}

ClientOptions OptionsFor(const std::string& target) {
  return testing::ShortBackoffOptions(target, absl::Milliseconds(10));
}

// An echo agent with an HTTP binding, on `http_port` (0: any free port).
std::unique_ptr<AsapServer> StartHttpServer(HandlerRegistry handlers,
                                            int http_port = 0) {
  ServerOptions options;
  options.http_address = absl::StrCat("127.0.0.1:", http_port);
  return testing::StartTestServer(std::move(handlers), std::move(options));
}

using testing::ClosingListener;

// Three echo agents counting the calls each one answers.
class ThreeUrls : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      servers_[i] =
          StartHttpServer(testing::EchoAfter([this, i] { ++calls_[i]; }));
      ASSERT_NE(servers_[i], nullptr);
      ports_.push_back(servers_[i]->http_port());
    }
  }

  int TotalCalls() const { return calls_[0] + calls_[1] + calls_[2]; }

  std::unique_ptr<AsapServer> servers_[3];
  std::atomic<int> calls_[3] = {0, 0, 0};
  std::vector<int> ports_;
};

TEST_F(ThreeUrls, CallsAreSpreadOverEveryUrl) {
  for (HttpProtocol protocol : {HttpProtocol::kAuto, HttpProtocol::kHttp1}) {
    for (std::atomic<int>& calls : calls_) calls = 0;
    ClientOptions options = OptionsFor(Target(ports_));
    options.http.protocol = protocol;
    std::unique_ptr<AsapClient> client = CreateTestClient(options);
    ASSERT_NE(client, nullptr);
    constexpr int kCalls = 150;
    for (int i = 0; i < kCalls; ++i) {
      absl::StatusOr<v1::Envelope> response =
          client->Send(EchoRequest(absl::StrCat("m", i)));
      ASSERT_TRUE(response.ok()) << response.status();
    }
    EXPECT_EQ(TotalCalls(), kCalls);
    // Round-robin: each URL gets about a third.
    for (int i = 0; i < 3; ++i) EXPECT_GE(calls_[i], kCalls / 10) << i;

    // The other calls go over the list too.
    ASSERT_TRUE(client->GetManifest().ok());
    absl::StatusOr<v1::Envelope> streamed =
        client->SendStream(EchoRequest("stream"), nullptr);
    EXPECT_TRUE(streamed.ok()) << streamed.status();
    std::vector<v1::Envelope> batch;
    for (int i = 0; i < 30; ++i) batch.push_back(EchoRequest("batch"));
    absl::StatusOr<AsapClient::BatchResults> results = client->SendBatch(batch);
    ASSERT_TRUE(results.ok()) << results.status();
    for (const auto& result : *results) EXPECT_TRUE(result.ok());

    AsapClient::HttpStats stats = client->http_stats();
    ASSERT_EQ(stats.urls.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(stats.urls[i].url, Url(ports_[i]));
      EXPECT_GE(stats.urls[i].requests, uint64_t{kCalls / 10});
      EXPECT_EQ(stats.urls[i].failures, 0u);
      EXPECT_FALSE(stats.urls[i].down);
    }
    EXPECT_EQ(stats.retries, 0u);
    EXPECT_EQ(stats.url_failovers, 0u);
    EXPECT_EQ(stats.urls_marked_down, 0u);
  }
}

TEST_F(ThreeUrls, ADeadUrlIsSkippedWithoutAConnectionPerCall) {
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(Target(ports_)));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(client->Send(EchoRequest("w")).ok());
  ASSERT_GT(calls_[2], 0);
  servers_[2]->Shutdown(absl::ZeroDuration());
  servers_[2].reset();
  ClosingListener dead(ports_[2]);
  ASSERT_TRUE(dead.listening());
  const int before = calls_[0] + calls_[1];

  // Four threads at once, every call answered by the two live URLs.
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 50;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"));
        if (!response.ok()) {
          ++failed;
          ADD_FAILURE() << response.status();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  constexpr int kCalls = kThreads * kCallsPerThread;
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(calls_[0] + calls_[1] - before, kCalls);
  // Marked down at its first failure, the dead URL is tried once per
  // backoff; a connection per call would be 200.
  EXPECT_GE(dead.accepted(), 1);
  EXPECT_LT(dead.accepted(), kCalls / 4);
  AsapClient::HttpStats stats = client->http_stats();
  EXPECT_GE(stats.urls_marked_down, 1u);
  EXPECT_GE(stats.url_failovers, 1u);
  ASSERT_EQ(stats.urls.size(), 3u);
  EXPECT_GE(stats.urls[2].failures, 1u);
  EXPECT_LT(stats.urls[2].failures, uint64_t{kCalls / 4});
}

TEST_F(ThreeUrls, AUrlThatComesBackGetsCallsAgain) {
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(Target(ports_)));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(EchoRequest("w")).ok());
  servers_[2]->Shutdown(absl::ZeroDuration());
  servers_[2].reset();
  const int port = ports_[2];
  ASSERT_TRUE(WaitUntil([&] {
    EXPECT_TRUE(client->Send(EchoRequest("x")).ok());
    return client->http_stats().urls_marked_down > 0;
  }));

  std::atomic<int> revived_calls{0};
  std::unique_ptr<AsapServer> revived =
      StartHttpServer(testing::EchoAfter([&] { ++revived_calls; }), port);
  ASSERT_NE(revived, nullptr);
  // Its backoff over, the URL is tried again and takes calls.
  EXPECT_TRUE(WaitUntil([&] {
    EXPECT_TRUE(client->Send(EchoRequest("x")).ok());
    return revived_calls > 0;
  }));
  EXPECT_TRUE(WaitUntil([&] { return !client->http_stats().urls[2].down; }));
}

TEST_F(ThreeUrls, ADeadFirstUrlCostsNoCall) {
  // Retries off: a request that could not connect moves to the next URL
  // anyway, as it never reached an agent.
  std::unique_ptr<AsapServer> doomed =
      StartHttpServer(testing::EchoAfter([] {}));
  ASSERT_NE(doomed, nullptr);
  const int dead_port = doomed->http_port();
  doomed->Shutdown(absl::ZeroDuration());
  doomed.reset();
  ClientOptions options = OptionsFor(Target({dead_port, ports_[0]}));
  options.http.protocol = HttpProtocol::kHttp1;
  options.http.retry.max_retries = 0;
  std::unique_ptr<AsapClient> client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"));
    ASSERT_TRUE(response.ok()) << response.status();
  }
  EXPECT_EQ(calls_[0], 10);
  AsapClient::HttpStats stats = client->http_stats();
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_GE(stats.url_failovers, 1u);
  EXPECT_EQ(stats.urls_marked_down, 1u);
  ASSERT_EQ(stats.urls.size(), 2u);
  EXPECT_TRUE(stats.urls[0].down);
}

// Agents recording the envelope ids their task.request handler sees; the
// first one answers its first call with an overload error, which its HTTP
// binding turns into a 503.
TEST(HttpFailoverTest, ARetryGoesToAnotherUrlWithTheSameEnvelope) {
  absl::Mutex mu;
  std::vector<std::string> ids[3];
  std::unique_ptr<AsapServer> servers[3];
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    HandlerRegistry handlers;
    handlers
        .Register(
            "task.request",
            [&, i](const v1::Envelope& request, const v1::Manifest& manifest)
                -> absl::StatusOr<v1::Envelope> {
              bool first;
              {
                absl::MutexLock lock(&mu);
                first = ids[i].empty();
                ids[i].push_back(request.id());
              }
              if (i == 0 && first) {
                return AsapError(ErrorCode::kResourceExhausted,
                                 "replica overloaded");
              }
              return asap::EchoTask(request, manifest);
            })
        .IgnoreError();
    servers[i] = StartHttpServer(std::move(handlers));
    ASSERT_NE(servers[i], nullptr);
    ports.push_back(servers[i]->http_port());
  }
  std::unique_ptr<AsapClient> client =
      CreateTestClient(OptionsFor(Target(ports)));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"));
    ASSERT_TRUE(response.ok()) << response.status();
  }
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(ids[0].empty());
  const std::string refused = ids[0][0];
  // Sent once more, to one of the other URLs.
  int elsewhere = 0;
  for (int i = 1; i < 3; ++i) {
    for (const std::string& id : ids[i]) elsewhere += id == refused ? 1 : 0;
  }
  EXPECT_EQ(elsewhere, 1);
  EXPECT_EQ(std::count(ids[0].begin(), ids[0].end(), refused), 1);
  AsapClient::HttpStats stats = client->http_stats();
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.url_failovers, 1u);
  EXPECT_EQ(stats.urls_marked_down, 1u);
  ASSERT_EQ(stats.urls.size(), 3u);
  EXPECT_EQ(stats.urls[0].failures, 1u);
}

TEST(HttpTargetListTest, BadListsAreRefused) {
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) many.push_back(Url(1000 + i));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://127.0.0.1:1,", "is empty"},
      {",http://127.0.0.1:1", "is empty"},
      {"http://127.0.0.1:1,,http://127.0.0.1:2", "is empty"},
      {"http://127.0.0.1:1,https://127.0.0.1:2", "mixes http:// and https://"},
      {"http://127.0.0.1:1,127.0.0.1:2", "not an http:// or https:// URL"},
      {"127.0.0.1:2,http://127.0.0.1:1", "not an http:// or https:// URL"},
      {"http://127.0.0.1:1,http://", "expected http://HOST:PORT"},
      {"http://127.0.0.1:1,http://u@127.0.0.1:2", "expected http://HOST:PORT"},
      {absl::StrJoin(many, ","), "at most 64"},
  };
  for (const auto& [target, message] : cases) {
    ClientOptions options;
    options.target = target;
    absl::StatusOr<std::unique_ptr<AsapClient>> client =
        AsapClient::Create(options);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument)
        << target;
    EXPECT_TRUE(absl::StrContains(client.status().message(), message))
        << target << ": " << client.status();
  }
  ClientOptions options;
  options.target = "http://127.0.0.1:1, http://127.0.0.1:2/prefix/";
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  AsapClient::HttpStats stats = (*client)->http_stats();
  ASSERT_EQ(stats.urls.size(), 2u);
  EXPECT_EQ(stats.urls[1].url, "http://127.0.0.1:2/prefix");
  options.target = absl::StrJoin(
      std::vector<std::string>(many.begin(), many.begin() + 64), ",");
  EXPECT_TRUE(AsapClient::Create(options).ok());
}

// --- UrlBalancer on a clock the test sets ---------------------------------

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

TEST(UrlBalancerTest, HandsOutUrlsInTurn) {
  UrlBalancer balancer({"a", "b", "c"});
  std::vector<size_t> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(balancer.Pick(kStart));
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
  // A retry skips the URL that failed it.
  EXPECT_EQ(balancer.Pick(kStart, 0), 1u);
  EXPECT_EQ(balancer.Pick(kStart, 2), 0u);
}

TEST(UrlBalancerTest, ADownUrlIsSkippedUntilItsBackoffEnds) {
  UrlBalancer::Options options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(8);
  UrlBalancer balancer({"a", "b", "c"}, options);
  balancer.ReportFailure(1, kStart);
  EXPECT_EQ(balancer.marked_down(), 1u);
  // Requests sent before it was marked down fail too: one backoff still.
  balancer.ReportFailure(1, kStart);
  EXPECT_EQ(balancer.marked_down(), 1u);
  for (int i = 0; i < 10; ++i) EXPECT_NE(balancer.Pick(kStart), 1u);
  // The backoff (1 s +-20%) is over: one request tries it, the others
  // keep skipping it while that one is out.
  const absl::Time later = kStart + absl::Milliseconds(1300);
  int tries = 0;
  for (int i = 0; i < 6; ++i) tries += balancer.Pick(later) == 1 ? 1 : 0;
  EXPECT_EQ(tries, 1);
  // It fails again: a longer backoff (2 s +-20%).
  balancer.ReportFailure(1, later);
  for (int i = 0; i < 6; ++i) {
    EXPECT_NE(balancer.Pick(later + absl::Milliseconds(1500)), 1u);
  }
  tries = 0;
  const absl::Time after = later + absl::Milliseconds(2500);
  for (int i = 0; i < 6; ++i) tries += balancer.Pick(after) == 1 ? 1 : 0;
  EXPECT_EQ(tries, 1);
  // It answers: up again, in turn with the others.
  balancer.ReportSuccess(1);
  tries = 0;
  for (int i = 0; i < 6; ++i) tries += balancer.Pick(after) == 1 ? 1 : 0;
  EXPECT_EQ(tries, 2);
  std::vector<UrlBalancer::UrlStats> stats = balancer.stats();
  EXPECT_EQ(stats[1].failures, 3u);
  EXPECT_FALSE(stats[1].down);
  EXPECT_EQ(balancer.marked_down(), 1u);
}

TEST(UrlBalancerTest, BackoffGrowsToItsBound) {
  UrlBalancer::Options options;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Seconds(5);
  UrlBalancer balancer({"a", "b"}, options);
  absl::Time now = kStart;
  balancer.ReportFailure(0, now);
  // 100 ms +-20%.
  EXPECT_FALSE(balancer.AnotherUp(1, now + absl::Milliseconds(79)));
  EXPECT_TRUE(balancer.AnotherUp(1, now + absl::Milliseconds(121)));
  for (int i = 0; i < 20; ++i) {
    // Tried once its backoff has passed, and failing again.
    now += absl::Seconds(7);
    ASSERT_EQ(balancer.Pick(now, 1), 0u);
    balancer.ReportFailure(0, now);
  }
  // 5 s +-20%, no longer.
  EXPECT_FALSE(balancer.AnotherUp(1, now + absl::Milliseconds(3990)));
  EXPECT_TRUE(balancer.AnotherUp(1, now + absl::Milliseconds(6010)));
  EXPECT_EQ(balancer.marked_down(), 1u);
}

TEST(UrlBalancerTest, WhenEveryUrlIsDownTheFirstBackToTryIsUsed) {
  UrlBalancer::Options options;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(100);
  UrlBalancer balancer({"a", "b"}, options);
  // "a" fails three times in a row (backoff about 4 s), "b" once (1 s).
  for (int i = 0; i < 3; ++i) {
    balancer.ReportFailure(0, kStart);
    if (i < 2) {
      ASSERT_EQ(balancer.Pick(kStart + absl::Seconds(100), 1), 0u);
    }
  }
  balancer.ReportFailure(1, kStart);
  EXPECT_EQ(balancer.Pick(kStart), 1u);
  // "b" is on trial; still the one to use, not refused.
  EXPECT_EQ(balancer.Pick(kStart), 1u);
  // A retry after "b" failed goes to "a" even so.
  EXPECT_EQ(balancer.Pick(kStart, 1), 0u);
  // One URL: always that one.
  UrlBalancer single({"only"}, options);
  single.ReportFailure(0, kStart);
  EXPECT_EQ(single.Pick(kStart), 0u);
  EXPECT_EQ(single.Pick(kStart, 0), 0u);
}

}  // namespace
}  // namespace asap
