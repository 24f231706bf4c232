// The Redis stores against a redis-server this test starts (on a Unix
// socket, no persistence), and two AsapServer instances in one process
// sharing it: two replicas behind a load balancer.
#include "server/state/redis_stores.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/redis_process.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ClaimState = IdempotencyStore::ClaimState;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWindow = absl::Seconds(330);

class RedisStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start()) << "redis-server did not start";
  }

  RedisStores Stores(bool fail_open = false) {
    RedisOptions options;
    options.url = redis_.url();
    options.fail_open = fail_open;
    auto stores = MakeRedisStores(options, kWindow, 10 << 20);
    EXPECT_TRUE(stores.ok()) << stores.status();
    return *stores;
  }

  // A replica: an echo agent whose task handler counts its runs, on both
  // bindings, with `stores`.
  std::unique_ptr<AsapServer> Replica(const RedisStores& stores) {
    HandlerRegistry handlers;
    EXPECT_TRUE(handlers
                    .Register("task.request",
                              [this](const v1::Envelope& request,
                                     const HandlerContext& context)
                                  -> absl::StatusOr<v1::Envelope> {
                                runs_.fetch_add(1);
                                absl::SleepFor(delay_);
                                return asap::EchoTask(request,
                                                      context.manifest());
                              })
                    .ok());
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    options.replay_store = stores.replay;
    options.idempotency_store = stores.idempotency;
    return testing::StartTestServer(std::move(handlers), std::move(options));
  }

  static std::unique_ptr<AsapClient> Client(const std::string& target) {
    ClientOptions options;
    options.target = target;
    options.timeout = absl::Seconds(5);
    auto client = AsapClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  static v1::Envelope Request(const std::string& id,
                              const std::string& nonce = "") {
    v1::Envelope request = asap::testing::EchoRequest("hello");
    request.set_id(id);
    if (!nonce.empty()) {
      (*request.mutable_extensions()->mutable_fields())["nonce"]
          .set_string_value(nonce);
    }
    return request;
  }

  testing::RedisProcess redis_;
  std::atomic<int> runs_{0};
  absl::Duration delay_ = absl::ZeroDuration();
};

TEST_F(RedisStoresTest, ReplayStoreRefusesTheSecondUse) {
  RedisStores stores = Stores();
  absl::Time now = absl::Now();
  EXPECT_TRUE(stores.replay->CheckAndRemember("n-1", now).ok());
  EXPECT_EQ(ErrorCodeOf(stores.replay->CheckAndRemember("n-1", now)),
            ErrorCode::kInvalidNonce);
  EXPECT_EQ(
      ErrorCodeOf(stores.replay->CheckAndRemember(std::string(200, 'x'), now)),
      ErrorCode::kInvalidNonce);
  EXPECT_EQ(stores.replay->stats().redis_errors, 0u);
}

TEST_F(RedisStoresTest, ANonceIsTheSameEnvelopesAgainNoOneElses) {
  RedisStores stores = Stores();
  absl::Time now = absl::Now();
  ASSERT_TRUE(stores.replay->CheckAndRemember("n-o", "envelope-a", now).ok());
  EXPECT_TRUE(stores.replay->CheckAndRemember("n-o", "envelope-a", now).ok());
  EXPECT_EQ(
      ErrorCodeOf(stores.replay->CheckAndRemember("n-o", "envelope-b", now)),
      ErrorCode::kInvalidNonce);
  EXPECT_EQ(ErrorCodeOf(stores.replay->CheckAndRemember("n-o", now)),
            ErrorCode::kInvalidNonce);
}

TEST_F(RedisStoresTest, RenewExtendsOnlyTheHoldersClaim) {
  RedisStores stores = Stores();
  IdempotencyStore& store = *stores.idempotency;
  absl::Time now = absl::Now();
  auto claim = store.TryClaim("r", absl::Seconds(10), now);
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_EQ(claim->state, IdempotencyStore::ClaimState::kClaimed);
  EXPECT_TRUE(store.Renew("r", claim->token, absl::Seconds(20), now).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      store.Renew("r", "another-token", absl::Seconds(20), now)));
  ASSERT_TRUE(store.Complete("r", claim->token, "response", now).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      store.Renew("r", claim->token, absl::Seconds(20), now)));
  EXPECT_EQ(store.TryClaim("r", absl::Seconds(10), now)->state,
            IdempotencyStore::ClaimState::kDone);
}

TEST_F(RedisStoresTest, AnUnreachableRedisIsNotDialledOnEveryCommand) {
  RedisOptions options;
  options.url = redis_.url();
  options.reconnect_backoff = absl::Milliseconds(100);
  options.max_reconnect_backoff = absl::Milliseconds(400);
  auto client = RedisClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Command({"PING"}).ok());
  redis_.Kill();
  constexpr int kCommands = 200;
  absl::Time start = absl::Now();
  for (int i = 0; i < kCommands; ++i) {
    absl::StatusOr<RedisReply> reply = (*client)->Command({"PING"});
    ASSERT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  }
  absl::Duration elapsed = absl::Now() - start;
  // One attempt per backoff at most (100 ms growing), not one per command.
  uint64_t bound = 2 + static_cast<uint64_t>(elapsed / absl::Milliseconds(100));
  EXPECT_LE((*client)->connect_attempts(), bound) << "in " << elapsed;
  EXPECT_LT((*client)->connect_attempts(), static_cast<uint64_t>(kCommands));
  // Back up: commands succeed again once the backoff has run out.
  ASSERT_TRUE(redis_.Start());
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  absl::Status status = absl::UnavailableError("not tried");
  while (!status.ok() && absl::Now() < give_up) {
    status = (*client)->Command({"PING"}).status();
    if (!status.ok()) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(RedisStoresTest, BadRedisOptionsAreRefused) {
  RedisOptions options;
  options.url = redis_.url();
  options.reconnect_backoff = absl::Seconds(5);
  options.max_reconnect_backoff = absl::Seconds(1);
  EXPECT_TRUE(absl::IsInvalidArgument(RedisClient::Create(options).status()));
  options = RedisOptions();
  options.url = redis_.url();
  options.timeout = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(RedisClient::Create(options).status()));
}

TEST_F(RedisStoresTest, IdempotencyClaimBusyDoneAbandon) {
  RedisStores stores = Stores();
  IdempotencyStore& store = *stores.idempotency;
  absl::Time now = absl::Now();
  auto first = store.TryClaim("k", absl::Seconds(10), now);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->state, ClaimState::kClaimed);
  auto busy = store.TryClaim("k", absl::Seconds(10), now);
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->state, ClaimState::kBusy);
  // A stale token neither completes nor releases the claim.
  ASSERT_TRUE(store.Complete("k", "other", "x", now).ok());
  ASSERT_TRUE(store.Abandon("k", "other").ok());
  EXPECT_EQ(store.TryClaim("k", absl::Seconds(10), now)->state,
            ClaimState::kBusy);
  ASSERT_TRUE(
      store.Complete("k", first->token, std::string("r\0s", 3), now).ok());
  auto done = store.TryClaim("k", absl::Seconds(10), now);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, ClaimState::kDone);
  EXPECT_EQ(done->response, std::string("r\0s", 3));

  auto other = store.TryClaim("j", absl::Seconds(10), now);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(store.Abandon("j", other->token).ok());
  EXPECT_EQ(store.TryClaim("j", absl::Seconds(10), now)->state,
            ClaimState::kClaimed);
}

TEST_F(RedisStoresTest, TooLargeResponseIsNotStored) {
  RedisOptions options;
  options.url = redis_.url();
  auto stores = MakeRedisStores(options, kWindow, /*max_response_bytes=*/8);
  ASSERT_TRUE(stores.ok());
  absl::Time now = absl::Now();
  auto claim = stores->idempotency->TryClaim("k", absl::Seconds(10), now);
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(ErrorCodeOf(stores->idempotency->Complete(
                "k", claim->token, std::string(9, 'x'), now)),
            ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(stores->idempotency->TryClaim("k", absl::Seconds(10), now)->state,
            ClaimState::kClaimed);
}

TEST_F(RedisStoresTest, BadUrlsAreRefused) {
  for (const char* url : {"http://x", "redis://", "redis://h:0",
                          "redis://h:1/x", "unix://relative"}) {
    RedisOptions options;
    options.url = url;
    EXPECT_EQ(MakeRedisStores(options, kWindow, 1).status().code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
}

TEST_F(RedisStoresTest, NonceIsRefusedOnTheOtherReplica) {
  auto a = Replica(Stores());
  auto b = Replica(Stores());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(Client(a->address())->Send(Request("id-1", "nonce-1")).ok());
  for (const std::string& target :
       {b->address(), absl::StrCat("http://", b->http_address())}) {
    absl::StatusOr<v1::Envelope> replay =
        Client(target)->Send(Request("id-2", "nonce-1"));
    EXPECT_EQ(ErrorCodeOf(replay.status()), ErrorCode::kInvalidNonce)
        << target << ": " << replay.status();
  }
  EXPECT_EQ(runs_.load(), 1);
}

TEST_F(RedisStoresTest, RetryOnTheOtherReplicaRunsTheHandlerOnce) {
  auto a = Replica(Stores());
  auto b = Replica(Stores());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::StatusOr<v1::Envelope> first =
      Client(a->address())->Send(Request("id-retry"));
  absl::StatusOr<v1::Envelope> retry =
      Client(b->address())->Send(Request("id-retry"));
  absl::StatusOr<v1::Envelope> over_http =
      Client(absl::StrCat("http://", b->http_address()))
          ->Send(Request("id-retry"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(retry.ok()) << retry.status();
  ASSERT_TRUE(over_http.ok()) << over_http.status();
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_EQ(retry->id(), first->id());
  EXPECT_EQ(over_http->id(), first->id());
  EXPECT_EQ(asap::testing::EchoedText(*retry), "hello");
  // Both answers of replica B came from the store.
  EXPECT_THAT(b->MetricsText(), HasSubstr("asap_idempotency_hits_total 2\n"));
  EXPECT_THAT(a->MetricsText(), HasSubstr("asap_idempotency_hits_total 0\n"));
}

TEST_F(RedisStoresTest, ConcurrentDuplicatesOnBothReplicasRunOnce) {
  delay_ = absl::Milliseconds(200);
  auto a = Replica(Stores());
  auto b = Replica(Stores());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::unique_ptr<AsapClient> clients[] = {Client(a->address()),
                                           Client(b->address())};
  std::vector<absl::StatusOr<v1::Envelope>> results(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      results[i] = clients[i % 2]->Send(Request("id-concurrent"));
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(runs_.load(), 1);
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->id(), results[0]->id());
  }
}

TEST_F(RedisStoresTest, RedisDownFailClosedRefusesOnBothBindings) {
  RedisStores stores = Stores(/*fail_open=*/false);
  auto a = Replica(stores);
  ASSERT_NE(a, nullptr);
  // A replica with only the replay store in Redis: the idempotency lookup,
  // which comes first, does not hide the replay store's refusal.
  RedisStores replay_only = stores;
  replay_only.idempotency = nullptr;
  auto r = Replica(replay_only);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(Client(a->address())->Send(Request("id-up", "nonce-up")).ok());
  redis_.Kill();
  for (const std::string& target :
       {r->address(), absl::StrCat("http://", r->http_address())}) {
    absl::StatusOr<v1::Envelope> nonce =
        Client(target)->Send(Request(absl::StrCat("id-n-", target), "n-2"));
    EXPECT_EQ(ErrorCodeOf(nonce.status()), ErrorCode::kUnavailable)
        << target << ": " << nonce.status();
    EXPECT_THAT(std::string(nonce.status().message()),
                HasSubstr("replay store unavailable"))
        << target;
  }
  for (const std::string& target :
       {a->address(), absl::StrCat("http://", a->http_address())}) {
    absl::StatusOr<v1::Envelope> idem =
        Client(target)->Send(Request(absl::StrCat("id-i-", target)));
    EXPECT_EQ(ErrorCodeOf(idem.status()), ErrorCode::kUnavailable)
        << target << ": " << idem.status();
    EXPECT_THAT(std::string(idem.status().message()),
                HasSubstr("idempotency store unavailable"))
        << target;
  }
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_GT(stores.replay->stats().redis_errors, 0u);
  EXPECT_EQ(stores.replay->stats().fallbacks, 0u);
}

TEST_F(RedisStoresTest, RedisDownFailOpenServesAndCountsTheFallback) {
  RedisStores stores = Stores(/*fail_open=*/true);
  auto a = Replica(stores);
  ASSERT_NE(a, nullptr);
  redis_.Kill();
  auto client = Client(a->address());
  ASSERT_TRUE(client->Send(Request("id-open", "nonce-open")).ok());
  // The fallback still refuses a replay on this replica, and still runs a
  // retried envelope once.
  EXPECT_EQ(
      ErrorCodeOf(client->Send(Request("id-other", "nonce-open")).status()),
      ErrorCode::kInvalidNonce);
  ASSERT_TRUE(client->Send(Request("id-open")).ok());
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_GE(stores.replay->stats().fallbacks, 2u);
  EXPECT_GE(stores.idempotency->stats().fallbacks, 1u);
  EXPECT_GE(stores.replay->stats().redis_errors, 2u);
  // The server's metrics show the same counters.
  const std::string metrics = a->MetricsText();
  EXPECT_THAT(metrics, HasSubstr("asap_state_store_fallbacks_total{store="
                                 "\"replay\"} "));
  EXPECT_THAT(metrics,
              Not(HasSubstr("asap_state_store_errors_total{store=\"replay\"} "
                            "0\n")));
}

}  // namespace
}  // namespace asap
