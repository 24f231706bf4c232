// Client-side balancing and retries over gRPC, against agents on 127.0.0.1:
// a target with several addresses spreads calls over every replica that is
// up and SERVING, a dead replica costs connection attempts at gRPC's
// reconnect backoff (not one per call), and calls that could not reach a
// working agent are sent again (same envelope id) within the retry budget.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
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

using ::asap::testing::WaitUntil;

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(30);

v1::Envelope TaskRequest() {
  return asap::testing::EchoRequest("hello", "urn:asap:agent:tester");
}

// "ipv4:127.0.0.1:p1,127.0.0.1:p2,..."
std::string Target(const std::vector<int>& ports) {
  std::vector<std::string> addresses;
  for (int port : ports) addresses.push_back(absl::StrCat("127.0.0.1:", port));
  return absl::StrCat("ipv4:", absl::StrJoin(addresses, ","));
}

std::unique_ptr<AsapClient> MakeClient(const std::string& target,
                                       RetryOptions retry = {}) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(20);
  options.retry = retry;
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// An agent whose task.request handler records each envelope id and answers
// with `script(n)` for its n-th call (from 0): an error, or OK to echo.
class ScriptedAgent {
 public:
  explicit ScriptedAgent(std::function<absl::Status(int)> script) {
    HandlerRegistry handlers;
    handlers
        .Register(
            "task.request",
            [this, script = std::move(script)](
                const v1::Envelope& request,
                const v1::Manifest& manifest) -> absl::StatusOr<v1::Envelope> {
              int n;
              {
                absl::MutexLock lock(&mu_);
                n = static_cast<int>(ids_.size());
                ids_.push_back(request.id());
              }
              if (absl::Status s = script(n); !s.ok()) return s;
              return asap::EchoTask(request, manifest);
            })
        .IgnoreError();
    server_ = testing::StartTestServer(std::move(handlers));
  }

  bool started() const { return server_ != nullptr; }
  int port() const { return server_->port(); }
  std::vector<std::string> ids() const {
    absl::MutexLock lock(&mu_);
    return ids_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<AsapServer> server_;
};

// Three echo agents counting the calls each one answers.
class ThreeReplicas : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      servers_[i] = testing::StartTestServer(
          testing::EchoAfter([this, i] { ++calls_[i]; }));
      ASSERT_NE(servers_[i], nullptr);
      ports_.push_back(servers_[i]->port());
    }
  }

  std::unique_ptr<AsapServer> servers_[3];
  std::atomic<int> calls_[3] = {0, 0, 0};
  std::vector<int> ports_;
};

TEST_F(ThreeReplicas, CallsAreSpreadOverEveryAddress) {
  std::unique_ptr<AsapClient> client = MakeClient(Target(ports_));
  ASSERT_NE(client, nullptr);
  constexpr int kCalls = 300;
  for (int i = 0; i < kCalls; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest());
    ASSERT_TRUE(response.ok()) << response.status();
  }
  EXPECT_EQ(calls_[0] + calls_[1] + calls_[2], kCalls);
  // round_robin: each replica gets about a third once all are connected.
  for (int i = 0; i < 3; ++i) EXPECT_GE(calls_[i], kCalls / 10) << i;
  EXPECT_EQ(client->retry_stats().retries, 0u);
}

using testing::ClosingListener;

TEST_F(ThreeReplicas, ADeadReplicaIsSkippedWithoutAConnectionPerCall) {
  std::unique_ptr<AsapClient> client = MakeClient(Target(ports_));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(client->Send(TaskRequest()).ok());
  ASSERT_GT(calls_[2], 0);
  servers_[2]->Shutdown(absl::ZeroDuration());
  servers_[2].reset();
  ClosingListener dead(ports_[2]);
  ASSERT_TRUE(dead.listening());
  int before[2] = {calls_[0], calls_[1]};
  constexpr int kCalls = 200;
  absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest());
    ASSERT_TRUE(response.ok()) << i << ": " << response.status();
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(calls_[0] - before[0] + calls_[1] - before[1], kCalls);
  EXPECT_GT(calls_[0] - before[0], 0);
  EXPECT_GT(calls_[1] - before[1], 0);
  // gRPC's reconnect backoff (100 ms growing to 2 s) allows about ten
  // attempts a second at most; a connection per call would be 200.
  int bound = 5 + static_cast<int>(10 * absl::ToDoubleSeconds(elapsed));
  EXPECT_LE(dead.accepted(), bound) << "in " << elapsed;
  EXPECT_LT(dead.accepted(), kCalls / 4);
}

// A bare gRPC AsapService that answers Send with its request and counts the
// calls, with the standard health service, whose status the test sets.
class CountingService final : public v1::AsapService::Service {
 public:
  grpc::Status Send(grpc::ServerContext* /*context*/,
                    const v1::Envelope* request,
                    v1::Envelope* response) override {
    ++calls;
    *response = *request;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

TEST(HealthCheckTest, AReplicaNotServingGetsNoCallsUntilItServesAgain) {
  grpc::EnableDefaultHealthCheckService(true);
  CountingService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> bare = builder.BuildAndStart();
  ASSERT_NE(bare, nullptr);
  bare->GetHealthCheckService()->SetServingStatus(false);
  std::atomic<int> agent_calls{0};
  std::unique_ptr<AsapServer> agent =
      testing::StartTestServer(testing::EchoAfter([&] { ++agent_calls; }));
  ASSERT_NE(agent, nullptr);

  std::unique_ptr<AsapClient> client =
      MakeClient(Target({port, agent->port()}));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest());
    ASSERT_TRUE(response.ok()) << response.status();
  }
  EXPECT_EQ(service.calls, 0);
  EXPECT_EQ(agent_calls, 50);

  bare->GetHealthCheckService()->SetServingStatus(true);
  EXPECT_TRUE(WaitUntil([&] {
    EXPECT_TRUE(client->Send(TaskRequest()).ok());
    return service.calls > 0;
  }));
  client.reset();
  bare->Shutdown(absl::ToChronoTime(absl::Now()));
}

RetryOptions FastRetries() {
  RetryOptions retry;
  retry.initial_backoff = absl::Milliseconds(1);
  retry.max_backoff = absl::Milliseconds(10);
  return retry;
}

absl::Status UnavailableFirst(int n) {
  return n == 0 ? absl::UnavailableError("replica draining") : absl::OkStatus();
}

TEST(RetryTest, UnavailableOnceIsRetriedWithTheSameEnvelope) {
  ScriptedAgent agent(UnavailableFirst);
  ASSERT_TRUE(agent.started());
  std::unique_ptr<AsapClient> client =
      MakeClient(Target({agent.port()}), FastRetries());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  std::vector<std::string> ids = agent.ids();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_FALSE(ids[0].empty());
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(client->retry_stats().retries, 1u);
}

TEST(RetryTest, SendAsyncRetriesWithoutBlockingTheCaller) {
  ScriptedAgent agent(UnavailableFirst);
  ASSERT_TRUE(agent.started());
  RetryOptions retry = FastRetries();
  // Long enough that a blocking wait would show.
  retry.initial_backoff = absl::Milliseconds(300);
  retry.max_backoff = absl::Seconds(1);
  std::unique_ptr<AsapClient> client =
      MakeClient(Target({agent.port()}), retry);
  ASSERT_NE(client, nullptr);
  testing::AsyncAnswer answer;
  absl::Time start = absl::Now();
  client->SendAsync(TaskRequest(), answer.Callback());
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(250));
  ASSERT_TRUE(answer.WaitFor(kWaitBound));
  ASSERT_TRUE(answer.result().ok()) << answer.result().status();
  std::vector<std::string> ids = agent.ids();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(client->retry_stats().retries, 1u);
}

TEST(RetryTest, SendStreamIsRetriedBeforeItsFirstMessage) {
  ScriptedAgent agent(UnavailableFirst);
  ASSERT_TRUE(agent.started());
  std::unique_ptr<AsapClient> client =
      MakeClient(Target({agent.port()}), FastRetries());
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::Envelope> response =
      client->SendStream(TaskRequest(), nullptr);
  ASSERT_TRUE(response.ok()) << response.status();
  std::vector<std::string> ids = agent.ids();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(client->retry_stats().retries, 1u);
}

TEST(RetryTest, AnEmptyBudgetStopsRetrying) {
  ScriptedAgent agent(
      [](int) { return absl::UnavailableError("replica draining"); });
  ASSERT_TRUE(agent.started());
  RetryOptions retry = FastRetries();
  retry.max_retries = 3;
  retry.budget_tokens = 2;
  retry.budget_ratio = 0;
  std::unique_ptr<AsapClient> client =
      MakeClient(Target({agent.port()}), retry);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<v1::Envelope> first = client->Send(TaskRequest());
  EXPECT_EQ(ErrorCodeOf(first.status()), ErrorCode::kUnavailable);
  // The first attempt and the two retries the budget allowed.
  EXPECT_EQ(agent.ids().size(), 3u);
  absl::StatusOr<v1::Envelope> second = client->Send(TaskRequest());
  EXPECT_EQ(ErrorCodeOf(second.status()), ErrorCode::kUnavailable);
  EXPECT_EQ(agent.ids().size(), 4u);
  AsapClient::RetryStats stats = client->retry_stats();
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.budget_refusals, 2u);
}

TEST(RetryTest, TheBudgetRefillsWithCalls) {
  std::atomic<bool> failing{true};
  ScriptedAgent agent([&failing](int) {
    return failing ? absl::UnavailableError("down") : absl::OkStatus();
  });
  ASSERT_TRUE(agent.started());
  RetryOptions retry = FastRetries();
  retry.max_retries = 1;
  retry.budget_tokens = 1;
  retry.budget_ratio = 0.5;
  std::unique_ptr<AsapClient> client =
      MakeClient(Target({agent.port()}), retry);
  ASSERT_NE(client, nullptr);
  // Full bucket: one retry.
  EXPECT_FALSE(client->Send(TaskRequest()).ok());
  EXPECT_EQ(client->retry_stats().retries, 1u);
  // Half a token per call: the next call has half a token, no retry; the
  // one after it a whole one.
  EXPECT_FALSE(client->Send(TaskRequest()).ok());
  EXPECT_EQ(client->retry_stats().retries, 1u);
  EXPECT_FALSE(client->Send(TaskRequest()).ok());
  EXPECT_EQ(client->retry_stats().retries, 2u);
}

TEST(RetryTest, ErrorsOfTheAgentAreNotRetried) {
  const std::vector<absl::Status> errors = {
      absl::InvalidArgumentError("bad"),
      absl::PermissionDeniedError("no"),
      absl::UnauthenticatedError("who"),
      absl::InternalError("oops"),
      absl::DeadlineExceededError("slow"),
      AsapError(ErrorCode::kResourceExhausted, "full"),
  };
  for (const absl::Status& error : errors) {
    ScriptedAgent agent([error](int) { return error; });
    ASSERT_TRUE(agent.started());
    std::unique_ptr<AsapClient> client =
        MakeClient(Target({agent.port()}), FastRetries());
    ASSERT_NE(client, nullptr);
    absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest());
    EXPECT_FALSE(response.ok()) << error;
    EXPECT_EQ(response.status().code(), error.code()) << response.status();
    EXPECT_EQ(agent.ids().size(), 1u) << error;
    EXPECT_EQ(client->retry_stats().retries, 0u) << error;
  }
}

TEST(RetryTest, NoRetriesWhenDisabled) {
  ScriptedAgent agent(UnavailableFirst);
  ASSERT_TRUE(agent.started());
  RetryOptions retry = FastRetries();
  retry.max_retries = 0;
  std::unique_ptr<AsapClient> client =
      MakeClient(Target({agent.port()}), retry);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(ErrorCodeOf(client->Send(TaskRequest()).status()),
            ErrorCode::kUnavailable);
  EXPECT_EQ(agent.ids().size(), 1u);
}

TEST(RetryTest, InvalidRetryOptionsAreRefused) {
  ClientOptions options;
  options.target = "127.0.0.1:1";
  options.retry.max_retries = -1;
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.retry = RetryOptions();
  options.retry.initial_backoff = absl::Seconds(2);
  options.retry.max_backoff = absl::Seconds(1);
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RetryTest, DestroyingTheClientEndsAWaitBetweenAttempts) {
  ScriptedAgent agent(
      [](int) { return absl::UnavailableError("replica draining"); });
  ASSERT_TRUE(agent.started());
  RetryOptions retry;
  retry.initial_backoff = absl::Seconds(20);
  retry.max_backoff = absl::Seconds(20);
  ClientOptions options;
  options.target = Target({agent.port()});
  options.timeout = absl::Seconds(60);
  options.retry = retry;
  std::unique_ptr<AsapClient> client = *AsapClient::Create(options);
  absl::Notification finished;
  absl::StatusOr<v1::Envelope> async_result = absl::UnknownError("not run");
  client->SendAsync(TaskRequest(), [&](absl::StatusOr<v1::Envelope> r) {
    async_result = std::move(r);
    finished.Notify();
  });
  absl::StatusOr<v1::Envelope> sync_result = absl::UnknownError("not run");
  AsapClient* raw = client.get();
  std::thread sender([&] { sync_result = raw->Send(TaskRequest()); });
  // Both calls failed once and now wait out their backoff.
  ASSERT_TRUE(WaitUntil([&] { return agent.ids().size() == 2; }));
  ASSERT_TRUE(WaitUntil([&] { return client->retry_stats().retries == 2; }));
  absl::Time start = absl::Now();
  client.reset();
  sender.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_TRUE(finished.HasBeenNotified());
  EXPECT_EQ(ErrorCodeOf(async_result.status()), ErrorCode::kCancelled);
  EXPECT_EQ(ErrorCodeOf(sync_result.status()), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace asap
