// Destroying an AsapClient with calls in flight, against a real server on
// 127.0.0.1:0 whose handler holds every call: the destructor cancels them,
// waits for every callback, and nothing touches freed memory (run this test
// under AddressSanitizer too).
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"

namespace asap {
namespace {

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(30);

v1::Envelope TaskRequest() {
  return asap::testing::EchoRequest("hello", "urn:asap:agent:tester");
}

// An echo agent whose handler blocks until released (or kWaitBound), and that
// signals when the first call has reached it.
class HeldAgent {
 public:
  HeldAgent() {
    ServerOptions options;
    options.manifest = asap::EchoManifest("");
    auto server =
        AsapServer::Start(std::move(options), testing::EchoAfter([this] {
                            if (!entered_flag_.exchange(true))
                              entered_.Notify();
                            release_.WaitForNotificationWithTimeout(kWaitBound);
                          }));
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }
  // Releases the handlers first, so that the server shuts down at once.
  ~HeldAgent() {
    Release();
    server_.reset();
  }

  std::string address() const { return server_->address(); }
  bool WaitUntilEntered() {
    return entered_.WaitForNotificationWithTimeout(kWaitBound);
  }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

 private:
  std::atomic<bool> entered_flag_{false};
  absl::Notification entered_;
  absl::Notification release_;
  std::unique_ptr<AsapServer> server_;
};

std::unique_ptr<AsapClient> ClientFor(const std::string& target) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Minutes(5);  // no call ends by its deadline here
  auto client = AsapClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

bool CancelledByDestruction(const absl::Status& status) {
  return status.code() == absl::StatusCode::kCancelled &&
         ErrorCodeOf(status) == ErrorCode::kCancelled;
}

TEST(ClientDestructionTest, CancelsEveryAsyncCallAndRunsEachCallbackOnce) {
  HeldAgent agent;
  constexpr int kCalls = 200;
  // Owned here, outliving the client: the destructor must have run every
  // callback before it returns, so nothing may reach these afterwards.
  std::vector<std::atomic<int>> runs(kCalls);
  std::vector<absl::Status> results(kCalls);
  auto client = ClientFor(agent.address());
  for (int i = 0; i < kCalls; ++i) {
    client->SendAsync(TaskRequest(),
                      [&runs, &results, i](absl::StatusOr<v1::Envelope> r) {
                        results[i] = r.status();
                        ++runs[i];
                      });
  }
  ASSERT_TRUE(agent.WaitUntilEntered());
  EXPECT_EQ(client->pool_stats().in_flight, kCalls);

  client.reset();

  for (int i = 0; i < kCalls; ++i) {
    EXPECT_EQ(runs[i].load(), 1) << "call " << i;
    EXPECT_TRUE(CancelledByDestruction(results[i]))
        << "call " << i << ": " << results[i];
  }
}

TEST(ClientDestructionTest, CancelsABlockingSendOnAnotherThread) {
  HeldAgent agent;
  absl::StatusOr<v1::Envelope> result = absl::UnknownError("not run");
  auto client = ClientFor(agent.address());
  AsapClient* raw = client.get();
  std::thread caller([&result, raw] { result = raw->Send(TaskRequest()); });
  EXPECT_TRUE(agent.WaitUntilEntered());
  client.reset();  // returns once the Send has returned
  caller.join();
  EXPECT_TRUE(CancelledByDestruction(result.status())) << result.status();
}

TEST(ClientDestructionTest, CancelsABlockingSendBatchOnAnotherThread) {
  HeldAgent agent;
  absl::StatusOr<AsapClient::BatchResults> results =
      absl::UnknownError("not run");
  auto client = ClientFor(agent.address());
  AsapClient* raw = client.get();
  std::thread caller([&results, raw] {
    std::vector<v1::Envelope> envelopes(3, TaskRequest());
    results = raw->SendBatch(std::move(envelopes));
  });
  EXPECT_TRUE(agent.WaitUntilEntered());
  client.reset();
  caller.join();
  ASSERT_TRUE(results.ok()) << results.status();
  for (const absl::StatusOr<v1::Envelope>& r : *results) {
    EXPECT_TRUE(CancelledByDestruction(r.status())) << r.status();
  }
}

TEST(ClientDestructionTest, CallbackThatSendsAgainGetsCancelled) {
  HeldAgent agent;
  // Declared before the client, which runs the callbacks until it is gone.
  std::atomic<int> first_runs{0};
  std::atomic<int> second_runs{0};
  absl::Status second_result;
  auto client = ClientFor(agent.address());
  AsapClient* raw = client.get();
  // The first callback runs during destruction and sends again: that call is
  // refused at once instead of outliving the client.
  client->SendAsync(TaskRequest(), [&, raw](absl::StatusOr<v1::Envelope>) {
    ++first_runs;
    raw->SendAsync(TaskRequest(), [&](absl::StatusOr<v1::Envelope> r) {
      second_result = r.status();
      ++second_runs;
    });
  });
  ASSERT_TRUE(agent.WaitUntilEntered());
  client.reset();
  EXPECT_EQ(first_runs, 1);
  EXPECT_EQ(second_runs, 1);
  EXPECT_TRUE(CancelledByDestruction(second_result)) << second_result;
}

TEST(ClientDestructionTest, ClientWithFinishedCallsIsDestroyedAtOnce) {
  HeldAgent agent;
  agent.Release();
  absl::Notification done;
  auto client = ClientFor(agent.address());
  client->SendAsync(TaskRequest(), [&](absl::StatusOr<v1::Envelope> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWaitBound));
  client.reset();
}

}  // namespace
}  // namespace asap
