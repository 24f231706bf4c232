// ChannelPool on its own (no server: channels to an address nobody dials) and
// against a real server on 127.0.0.1:0, with connections counted at the server.
#include "client/channel_pool.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/client/private_socket.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"
#include "tests/testing/peer_counter.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

using ::asap::testing::WaitUntil;

// Upper bound on every wait: a deadlock guard that turns a hang into a
// failure, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(30);

ChannelPool::ChannelFactory CountingFactory(std::atomic<int>* created) {
  return [created](int index) {
    ++*created;
    grpc::ChannelArguments args;
    args.SetInt("asap.test_index", index);
    // Never dialled: a channel connects only when a call is made.
    return grpc::CreateCustomChannel("127.0.0.1:1",
                                     grpc::InsecureChannelCredentials(), args);
  };
}

// Options of a pool of at most `maxsize` connections (`connections` of them
// kept when idle) carrying `streams` calls each, where Acquire waits at most
// `timeout` for a stream.
ChannelPoolOptions PoolOf(int maxsize, int connections, int streams,
                          absl::Duration timeout = absl::Seconds(5)) {
  ChannelPoolOptions options;
  options.pool_maxsize = maxsize;
  options.pool_connections = connections;
  options.max_streams_per_connection = streams;
  options.pool_timeout = timeout;
  return options;
}

// Pools of channels that are never dialled, counting the channels made.
class ChannelPoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChannelPool> MakePool(ChannelPoolOptions options) {
    auto pool = ChannelPool::Create(options, CountingFactory(&created_));
    EXPECT_TRUE(pool.ok()) << pool.status();
    return *std::move(pool);
  }

  std::atomic<int> created_{0};
};

TEST(ChannelPoolOptionsTest, RejectsBadOptions) {
  auto bad = [](auto mutate) {
    ChannelPoolOptions options;
    mutate(options);
    return ValidateChannelPoolOptions(options).code();
  };
  EXPECT_EQ(bad([](auto& o) { o.pool_maxsize = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.pool_maxsize = -3; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.pool_connections = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) {
              o.pool_connections = 10;
              o.pool_maxsize = 5;
            }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.pool_timeout = absl::ZeroDuration(); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.pool_timeout = -absl::Seconds(1); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.max_streams_per_connection = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto&) {}), absl::StatusCode::kOk);
}

TEST(ChannelPoolOptionsTest, ClientRejectsBadPoolOptions) {
  ClientOptions options;
  options.target = "127.0.0.1:1";
  options.pool.pool_maxsize = 0;
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ChannelPoolTest, DefaultsAreTheDocumentedOnes) {
  ChannelPoolOptions options;
  EXPECT_EQ(options.pool_connections, 100);
  EXPECT_EQ(options.pool_maxsize, 100);
  EXPECT_EQ(options.pool_timeout, absl::Seconds(5));
}

TEST_F(ChannelPoolTest, OpensConnectionsLazilyOnlyWhenFull) {
  auto pool = MakePool(PoolOf(3, 3, 2));
  EXPECT_EQ(created_, 0);
  std::vector<ChannelPool::Lease> leases;
  leases.push_back(*pool->Acquire());
  leases.push_back(*pool->Acquire());
  EXPECT_EQ(created_, 1);  // two streams fit on one connection
  leases.push_back(*pool->Acquire());
  EXPECT_EQ(created_, 2);
  EXPECT_NE(leases[2].channel(), leases[0].channel());
}

TEST_F(ChannelPoolTest, ReusesConnectionsAfterRelease) {
  auto pool = MakePool({});
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<ChannelPool::Lease> lease = pool->Acquire();
    ASSERT_TRUE(lease.ok());
  }
  EXPECT_EQ(created_, 1);
  EXPECT_EQ(pool->stats().leases, 100u);
}

TEST_F(ChannelPoolTest, PicksTheLeastLoadedConnection) {
  auto pool = MakePool(PoolOf(2, 2, 2));
  std::vector<ChannelPool::Lease> leases;
  for (int i = 0; i < 4; ++i) leases.push_back(*pool->Acquire());  // 2 + 2
  auto first = leases[0].channel();
  // Free one stream on the first connection: the next lease must go there.
  leases.erase(leases.begin());
  ChannelPool::Lease next = *pool->Acquire();
  EXPECT_EQ(next.channel(), first);
}

TEST_F(ChannelPoolTest, NeverOpensMoreThanMaxsize) {
  auto pool = MakePool(PoolOf(2, 1, 1, absl::Milliseconds(50)));
  ChannelPool::Lease a = *pool->Acquire();
  ChannelPool::Lease b = *pool->Acquire();
  absl::StatusOr<ChannelPool::Lease> c = pool->Acquire();
  EXPECT_EQ(created_, 2);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ErrorCodeOf(c.status()), ErrorCode::kPoolExhausted);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pool->stats().timeouts, 1u);
}

TEST_F(ChannelPoolTest, WaiterGetsTheStreamThatFreesUp) {
  auto pool = MakePool(PoolOf(1, 1, 1, absl::Seconds(30)));
  auto held = std::make_unique<ChannelPool::Lease>(*pool->Acquire());
  absl::Notification acquired;
  std::thread waiter([&] {
    absl::StatusOr<ChannelPool::Lease> lease = pool->Acquire();
    EXPECT_TRUE(lease.ok());
    acquired.Notify();
  });
  // The pool counts the waiter once it is blocked for want of a stream.
  ASSERT_TRUE(WaitUntil([&] { return pool->stats().waits == 1; }));
  EXPECT_FALSE(acquired.HasBeenNotified());
  held.reset();
  EXPECT_TRUE(acquired.WaitForNotificationWithTimeout(kWaitBound));
  waiter.join();
  EXPECT_EQ(pool->stats().waits, 1u);
  EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST_F(ChannelPoolTest, LeaseMayOutliveThePool) {
  auto pool = MakePool({});
  ChannelPool::Lease lease = *pool->Acquire();
  pool.reset();
  // The call on this lease finishes after the pool is gone: returning the
  // stream must not touch freed memory (the ASan build checks it).
  EXPECT_NE(lease.channel(), nullptr);
}

TEST_F(ChannelPoolTest, CloseFailsWaitersAndLaterAcquires) {
  auto pool = MakePool(PoolOf(1, 1, 1, absl::Seconds(60)));
  ChannelPool::Lease held = *pool->Acquire();
  absl::StatusOr<ChannelPool::Lease> waited = absl::UnknownError("not run");
  std::thread waiter([&] { waited = pool->Acquire(); });
  ASSERT_TRUE(WaitUntil([&] { return pool->stats().waits == 1; }));
  pool->Close();
  waiter.join();  // at once, not after pool_timeout
  EXPECT_EQ(ErrorCodeOf(waited.status()), ErrorCode::kCancelled);
  EXPECT_EQ(ErrorCodeOf(pool->Acquire().status()), ErrorCode::kCancelled);
  EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST_F(ChannelPoolTest, DestroyingThePoolReleasesAWaiter) {
  auto pool = MakePool(PoolOf(1, 1, 1, absl::Seconds(60)));
  ChannelPool::Lease held = *pool->Acquire();
  absl::StatusOr<ChannelPool::Lease> waited = absl::UnknownError("not run");
  ChannelPool* raw = pool.get();
  std::thread waiter([&waited, raw] { waited = raw->Acquire(); });
  ASSERT_TRUE(WaitUntil([&] { return pool->stats().waits == 1; }));
  pool.reset();
  waiter.join();
  EXPECT_EQ(ErrorCodeOf(waited.status()), ErrorCode::kCancelled);
}

TEST_F(ChannelPoolTest, ReportedFailureKeepsTheConnection) {
  auto pool = MakePool(PoolOf(1, 1, 100));
  std::shared_ptr<grpc::Channel> first;
  {
    ChannelPool::Lease lease = *pool->Acquire();
    first = lease.channel();
    lease.ReportFailure();
  }
  // gRPC reconnects the channel with backoff; the pool does not replace it.
  ChannelPool::Lease next = *pool->Acquire();
  EXPECT_EQ(next.channel(), first);
  EXPECT_EQ(created_, 1);
  EXPECT_EQ(pool->stats().connections_replaced, 0u);
}

TEST_F(ChannelPoolTest, FreedStreamsWakeEveryWaiterThatFits) {
  auto pool = MakePool(PoolOf(1, 1, 2, absl::Seconds(30)));
  std::optional<ChannelPool::Lease> a = *pool->Acquire();
  std::optional<ChannelPool::Lease> b = *pool->Acquire();
  std::atomic<int> acquired{0};
  ChannelPool* raw = pool.get();
  std::vector<std::thread> waiters;
  std::vector<std::optional<ChannelPool::Lease>> got(2);
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([raw, &got, &acquired, i] {
      absl::StatusOr<ChannelPool::Lease> lease = raw->Acquire();
      if (lease.ok()) got[i].emplace(*std::move(lease));
      ++acquired;
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return pool->stats().waits == 2; }));
  a.reset();
  b.reset();
  ASSERT_TRUE(WaitUntil([&] { return acquired == 2; }));
  for (std::thread& t : waiters) t.join();
  EXPECT_TRUE(got[0].has_value());
  EXPECT_TRUE(got[1].has_value());
  EXPECT_EQ(pool->stats().timeouts, 0u);
}

TEST_F(ChannelPoolTest, ClosesIdleConnectionsAbovePoolConnections) {
  ChannelPoolOptions options = PoolOf(4, 1, 1);
  options.idle_timeout = absl::ZeroDuration();
  auto pool = MakePool(options);
  {
    std::vector<ChannelPool::Lease> leases;
    for (int i = 0; i < 4; ++i) leases.push_back(*pool->Acquire());
    EXPECT_EQ(pool->stats().open_connections, 4);
  }
  ChannelPool::Lease lease = *pool->Acquire();
  EXPECT_EQ(pool->stats().open_connections, 1);
}

// --- Against a real server -------------------------------------------------

struct CountedServer {
  std::shared_ptr<PeerCounter> peers = std::make_shared<PeerCounter>();
  std::unique_ptr<AsapServer> server;
};

CountedServer StartCounted(HandlerRegistry handlers,
                           std::string address = "127.0.0.1:0") {
  CountedServer result;
  ServerOptions options;
  options.address = address;
  options.manifest = asap::EchoManifest("");
  options.interceptors.push_back(result.peers->MakeInterceptorFactory());
  auto server = AsapServer::Start(std::move(options), std::move(handlers));
  EXPECT_TRUE(server.ok()) << server.status();
  if (server.ok()) result.server = *std::move(server);
  return result;
}

v1::Envelope TaskRequest() {
  return asap::testing::EchoRequest("", "urn:asap:agent:tester");
}

// Runs `n` SendAsync calls at once and waits for all; returns the failures
// (a call not finished within kWaitBound counts as one). The tally is shared
// with the callbacks, so giving up early leaves no callback pointing at a
// dead stack frame.
int SendConcurrently(AsapClient* client, int n) {
  struct Tally {
    absl::Mutex mu;
    int done ABSL_GUARDED_BY(mu) = 0;
    int failures ABSL_GUARDED_BY(mu) = 0;
  };
  auto tally = std::make_shared<Tally>();
  for (int i = 0; i < n; ++i) {
    client->SendAsync(TaskRequest(), [tally](absl::StatusOr<v1::Envelope> r) {
      absl::MutexLock lock(&tally->mu);
      ++tally->done;
      if (!r.ok()) ++tally->failures;
    });
  }
  absl::MutexLock lock(&tally->mu);
  auto all_done = [&tally, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tally->mu) {
    return tally->done == n;
  };
  tally->mu.AwaitWithTimeout(absl::Condition(&all_done), kWaitBound);
  return tally->failures + (n - tally->done);
}

TEST(ChannelPoolServerTest, ConnectionsAtTheServerNeverExceedMaxsize) {
  // Handlers hold their calls until the pool is full and a caller waits, so
  // the pool must spread calls over every connection it may open.
  absl::Notification release;
  CountedServer counted = StartCounted(testing::EchoAfter(
      [&release] { release.WaitForNotificationWithTimeout(kWaitBound); }));
  ClientOptions options;
  options.target = counted.server->address();
  options.pool.pool_maxsize = 4;
  options.pool.pool_connections = 4;
  options.pool.max_streams_per_connection = 5;
  options.pool.pool_timeout = kWaitBound;
  auto client = *AsapClient::Create(options);
  int failures = -1;
  std::thread sender([&] { failures = SendConcurrently(client.get(), 200); });
  EXPECT_TRUE(WaitUntil([&] { return client->pool_stats().waits > 0; }));
  EXPECT_EQ(client->pool_stats().in_flight, 20);  // 4 connections x 5 streams
  release.Notify();
  sender.join();
  EXPECT_EQ(failures, 0);
  // The 200 calls, and one grpc.health.v1 Watch per connection (client-side
  // health checking, see CreateAsapChannel).
  EXPECT_GE(counted.peers->calls(), 200u);
  EXPECT_LE(counted.peers->calls(), 200u + 4u);
  EXPECT_LE(counted.peers->distinct_peers(), 4u);
  EXPECT_GE(counted.peers->distinct_peers(), 2u);  // it did spread
  EXPECT_GT(client->pool_stats().waits, 0u);  // calls beyond capacity waited
}

TEST(ChannelPoolServerTest, CallBeyondCapacityFailsAfterPoolTimeout) {
  absl::Notification release;
  absl::Notification entered;
  std::atomic<bool> first{true};
  CountedServer counted = StartCounted(testing::EchoAfter([&] {
    if (first.exchange(false)) entered.Notify();
    release.WaitForNotificationWithTimeout(kWaitBound);
  }));
  ClientOptions options;
  options.target = counted.server->address();
  options.pool.pool_maxsize = 1;
  options.pool.pool_connections = 1;
  options.pool.max_streams_per_connection = 1;
  options.pool.pool_timeout = absl::Milliseconds(200);
  absl::Notification first_done;  // outlives the client and its callbacks
  auto client = *AsapClient::Create(options);
  client->SendAsync(TaskRequest(), [&](absl::StatusOr<v1::Envelope> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    first_done.Notify();
  });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kWaitBound));
  absl::StatusOr<v1::Envelope> second = client->Send(TaskRequest());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(ErrorCodeOf(second.status()), ErrorCode::kPoolExhausted);
  // It waited for a stream, it did not fail fast.
  EXPECT_EQ(client->pool_stats().waits, 1u);
  EXPECT_EQ(client->pool_stats().timeouts, 1u);
  release.Notify();
  EXPECT_TRUE(first_done.WaitForNotificationWithTimeout(kWaitBound));
  EXPECT_TRUE(client->Send(TaskRequest()).ok());  // capacity is back
}

TEST(ChannelPoolServerTest, RestartedServerIsReconnectedWithoutFailures) {
  testing::PrivateSocket socket;
  std::string address = socket.address();
  CountedServer counted = StartCounted(asap::EchoHandlers(), address);
  ASSERT_NE(counted.server, nullptr);
  ClientOptions options;
  options.target = address;
  options.timeout = absl::Seconds(5);
  options.pool.pool_maxsize = 4;
  options.pool.pool_connections = 4;
  options.pool.max_streams_per_connection = 2;
  auto client = *AsapClient::Create(options);
  ASSERT_EQ(SendConcurrently(client.get(), 16), 0);

  counted.server.reset();  // killed
  absl::StatusOr<v1::Envelope> down = client->Send(TaskRequest());
  EXPECT_EQ(ErrorCodeOf(down.status()), ErrorCode::kUnavailable);

  CountedServer restarted = StartCounted(asap::EchoHandlers(), address);
  ASSERT_NE(restarted.server, nullptr);
  // The pool keeps its channels; each reconnects by itself within its
  // reconnect backoff (at most 2 s) ...
  EXPECT_TRUE(WaitUntil([&] {
    if (SendConcurrently(client.get(), 16) == 0) return true;
    absl::SleepFor(absl::Milliseconds(50));
    return false;
  }));
  // ... and from then on every call succeeds: no stale connection is handed
  // out.
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(SendConcurrently(client.get(), 16), 0) << "round " << round;
  }
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<v1::Envelope> r = client->Send(TaskRequest());
    EXPECT_TRUE(r.ok()) << r.status();
  }
}

}  // namespace
}  // namespace asap
