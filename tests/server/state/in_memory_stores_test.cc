// The in-memory stores (NonceStore as a ReplayStore, InMemoryIdempotencyStore)
// and the dispatcher's exactly-once runs over an idempotency store.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dispatcher.h"
#include "server/nonce_store.h"
#include "server/state/claim_renewer.h"
#include "server/state/idempotency_store.h"
#include "tests/testing/echo_requests.h"

namespace asap {
namespace {

using ClaimState = IdempotencyStore::ClaimState;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

TEST(NonceStoreTest, IsAReplayStore) {
  NonceStore nonces(absl::Seconds(330));
  ReplayStore* store = &nonces;
  EXPECT_TRUE(store->CheckAndRemember("n-1", kT0).ok());
  EXPECT_EQ(ErrorCodeOf(store->CheckAndRemember("n-1", kT0)),
            ErrorCode::kInvalidNonce);
  EXPECT_TRUE(store->CheckAndRemember("n-1", kT0 + absl::Seconds(331)).ok());
}

TEST(NonceStoreTest, TheSameOwnerMayUseItsNonceAgainNoOneElse) {
  NonceStore store(absl::Seconds(330));
  ASSERT_TRUE(store.CheckAndRemember("n-1", "envelope-a", kT0).ok());
  EXPECT_TRUE(store.CheckAndRemember("n-1", "envelope-a", kT0).ok());
  EXPECT_EQ(ErrorCodeOf(store.CheckAndRemember("n-1", "envelope-b", kT0)),
            ErrorCode::kInvalidNonce);
  // Without an owner, nobody can claim to be the first user.
  EXPECT_EQ(ErrorCodeOf(store.CheckAndRemember("n-1", kT0)),
            ErrorCode::kInvalidNonce);
  ASSERT_TRUE(store.CheckAndRemember("n-2", kT0).ok());
  EXPECT_EQ(ErrorCodeOf(store.CheckAndRemember("n-2", kT0)),
            ErrorCode::kInvalidNonce);
}

TEST(IdempotencyKeyTest, SenderAndIdCannotSpellAnotherPair) {
  EXPECT_NE(IdempotencyKey("a:b", "c"), IdempotencyKey("a", "b:c"));
  EXPECT_EQ(IdempotencyKey("a", "b"), IdempotencyKey("a", "b"));
}

TEST(InMemoryIdempotencyStoreTest, ClaimBusyCompleteDone) {
  InMemoryIdempotencyStore store(absl::Seconds(330));
  auto first = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->state, ClaimState::kClaimed);
  auto second = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->state, ClaimState::kBusy);
  ASSERT_TRUE(store.Complete("k", first->token, "response", kT0).ok());
  auto third = store.TryClaim("k", absl::Seconds(10), kT0 + absl::Seconds(100));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->state, ClaimState::kDone);
  EXPECT_EQ(third->response, "response");
  // Kept for the window only.
  auto later = store.TryClaim("k", absl::Seconds(10), kT0 + absl::Seconds(331));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->state, ClaimState::kClaimed);
}

TEST(InMemoryIdempotencyStoreTest, AbandonLetsTheNextClaimRun) {
  InMemoryIdempotencyStore store(absl::Seconds(330));
  auto first = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store.Abandon("k", first->token).ok());
  auto second = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->state, ClaimState::kClaimed);
}

TEST(InMemoryIdempotencyStoreTest,
     ExpiredLeaseIsClaimedAgainAndOldTokenIgnored) {
  InMemoryIdempotencyStore store(absl::Seconds(330));
  auto first = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(first.ok());
  auto second = store.TryClaim("k", absl::Seconds(10), kT0 + absl::Seconds(11));
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->state, ClaimState::kClaimed);
  // The first holder's late completion does not overwrite the new claim.
  ASSERT_TRUE(
      store.Complete("k", first->token, "stale", kT0 + absl::Seconds(12)).ok());
  auto third = store.TryClaim("k", absl::Seconds(10), kT0 + absl::Seconds(12));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->state, ClaimState::kBusy);
}

TEST(InMemoryIdempotencyStoreTest, RenewExtendsOnlyAClaimStillHeld) {
  InMemoryIdempotencyStore store(absl::Seconds(330));
  auto first = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(
      store.Renew("k", first->token, absl::Seconds(10), kT0 + absl::Seconds(8))
          .ok());
  // Past the first lease, within the renewed one: still held.
  EXPECT_EQ(
      store.TryClaim("k", absl::Seconds(10), kT0 + absl::Seconds(15))->state,
      ClaimState::kBusy);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      store.Renew("k", "not-the-token", absl::Seconds(10), kT0)));
  // A lease that ran out cannot be renewed: someone else may hold it now.
  EXPECT_TRUE(absl::IsFailedPrecondition(store.Renew(
      "k", first->token, absl::Seconds(10), kT0 + absl::Seconds(19))));
  ASSERT_TRUE(store.Complete("k", first->token, "done", kT0).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      store.Renew("k", first->token, absl::Seconds(10), kT0)));
}

TEST(ClaimRenewerTest, KeepsAHeldClaimAliveAndStopsAtRelease) {
  InMemoryIdempotencyStore store(absl::Seconds(330));
  // A clock the test moves: the renewer wakes on real time (a third of the
  // lease) and renews with this clock.
  absl::Mutex mu;
  absl::Time now = kT0;
  auto clock = [&] {
    absl::MutexLock lock(&mu);
    return now;
  };
  auto advance = [&](absl::Duration by) {
    absl::MutexLock lock(&mu);
    now += by;
  };
  const absl::Duration lease = absl::Milliseconds(300);
  ClaimRenewer renewer(&store, lease, clock);
  auto claim = store.TryClaim("k", lease, clock());
  ASSERT_TRUE(claim.ok());
  ASSERT_EQ(claim->state, ClaimState::kClaimed);
  uint64_t handle = renewer.Hold("k", claim->token);
  // Ten leases pass on the store's clock, each renewal seen before the next.
  for (int i = 0; i < 10; ++i) {
    uint64_t before = renewer.renewals();
    advance(lease / 2);
    absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (renewer.renewals() == before && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_GT(renewer.renewals(), before) << i;
    EXPECT_EQ(store.TryClaim("k", lease, clock())->state, ClaimState::kBusy);
  }
  renewer.Release(handle);
  uint64_t renewed = renewer.renewals();
  // Released: the claim runs out one lease after its last renewal.
  advance(lease + absl::Milliseconds(1));
  EXPECT_EQ(store.TryClaim("k", lease, clock())->state, ClaimState::kClaimed);
  EXPECT_EQ(renewer.renewals(), renewed);
  EXPECT_EQ(renewer.lost(), 0u);
}

TEST(InMemoryIdempotencyStoreTest, FullStoreRefusesRatherThanForgets) {
  InMemoryIdempotencyOptions options;
  options.max_entries = 2;
  InMemoryIdempotencyStore store(absl::Seconds(330), options);
  ASSERT_TRUE(store.TryClaim("a", absl::Seconds(10), kT0).ok());
  ASSERT_TRUE(store.TryClaim("b", absl::Seconds(10), kT0).ok());
  auto third = store.TryClaim("c", absl::Seconds(10), kT0);
  EXPECT_EQ(ErrorCodeOf(third.status()), ErrorCode::kResourceExhausted);
  // Once the claims expire there is room again.
  EXPECT_TRUE(
      store.TryClaim("c", absl::Seconds(10), kT0 + absl::Seconds(11)).ok());
}

TEST(InMemoryIdempotencyStoreTest, TooLargeResponseIsNotKept) {
  InMemoryIdempotencyOptions options;
  options.max_response_bytes = 4;
  InMemoryIdempotencyStore store(absl::Seconds(330), options);
  auto claim = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(ErrorCodeOf(store.Complete("k", claim->token, "12345", kT0)),
            ErrorCode::kPayloadTooLarge);
  auto again = store.TryClaim("k", absl::Seconds(10), kT0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->state, ClaimState::kClaimed);
}

// A dispatcher over the echo agent's manifest whose task handler counts its
// runs and can be told to fail or to wait.
class DispatcherIdempotencyTest : public ::testing::Test {
 protected:
  DispatcherIdempotencyTest()
      : manifest_(asap::EchoManifest("127.0.0.1:1")),
        store_(absl::Seconds(330)) {
    EXPECT_TRUE(handlers_
                    .Register("task.request",
                              [this](const v1::Envelope& request,
                                     const HandlerContext& context)
                                  -> absl::StatusOr<v1::Envelope> {
                                runs_.fetch_add(1);
                                absl::SleepFor(delay_);
                                if (fail_.load()) {
                                  return AsapError(ErrorCode::kInternal,
                                                   "failed on purpose");
                                }
                                return asap::EchoTask(request,
                                                      context.manifest());
                              })
                    .ok());
    dispatcher_ = std::make_unique<EnvelopeDispatcher>(
        &manifest_, &handlers_, ValidationOptions{}, nullptr,
        [] { return absl::Now(); });
    EnvelopeDispatcher::IdempotencyOptions options;
    options.default_lease = absl::Seconds(5);
    options.poll_interval = absl::Milliseconds(5);
    dispatcher_->set_idempotency_store(&store_, options);
  }

  v1::Envelope Request(const std::string& id) {
    v1::Envelope request = asap::testing::EchoRequest("hello");
    request.set_id(id);
    return request;
  }

  v1::Manifest manifest_;
  HandlerRegistry handlers_;
  InMemoryIdempotencyStore store_;
  std::unique_ptr<EnvelopeDispatcher> dispatcher_;
  std::atomic<int> runs_{0};
  std::atomic<bool> fail_{false};
  absl::Duration delay_ = absl::ZeroDuration();
};

TEST_F(DispatcherIdempotencyTest, RetryGetsTheFirstResponse) {
  auto first = dispatcher_->Dispatch(Request("id-1"));
  auto second = dispatcher_->Dispatch(Request("id-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(runs_.load(), 1);
  // The stored response itself: same id, same result.
  EXPECT_EQ(second->id(), first->id());
  EXPECT_EQ(asap::testing::EchoedText(*second), "hello");
  ASSERT_TRUE(dispatcher_->Dispatch(Request("id-2")).ok());
  EXPECT_EQ(runs_.load(), 2);
}

TEST_F(DispatcherIdempotencyTest, RetryWithItsNonceGetsTheAnswerNotARefusal) {
  NonceStore nonces(absl::Seconds(330));
  EnvelopeDispatcher dispatcher(&manifest_, &handlers_, ValidationOptions{},
                                &nonces, [] { return absl::Now(); });
  InMemoryIdempotencyStore store(absl::Seconds(330));
  EnvelopeDispatcher::IdempotencyOptions options;
  options.poll_interval = absl::Milliseconds(5);
  dispatcher.set_idempotency_store(&store, options);
  v1::Envelope request = Request("id-nonce");
  (*request.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
      "nonce-0123456789");
  ASSERT_TRUE(dispatcher.Dispatch(request).ok());
  // The client's retry resends the envelope as it was, nonce included.
  absl::StatusOr<v1::Envelope> retry = dispatcher.Dispatch(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(runs_.load(), 1);
  // Another envelope with the same nonce is a replay.
  v1::Envelope replay = request;
  replay.set_id("id-replay");
  EXPECT_EQ(ErrorCodeOf(dispatcher.Dispatch(replay).status()),
            ErrorCode::kInvalidNonce);
  EXPECT_EQ(runs_.load(), 1);
}

TEST_F(DispatcherIdempotencyTest, RetryAfterAFailedRunKeepsItsNonce) {
  // An attempt that left no answer (here its handler failed; on a replica
  // that died, the same) released the id but remembered the nonce: the
  // retry of that envelope runs, a new envelope with the nonce does not.
  NonceStore nonces(absl::Seconds(330));
  EnvelopeDispatcher dispatcher(&manifest_, &handlers_, ValidationOptions{},
                                &nonces, [] { return absl::Now(); });
  InMemoryIdempotencyStore store(absl::Seconds(330));
  dispatcher.set_idempotency_store(&store, {});
  v1::Envelope request = Request("id-failed");
  (*request.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
      "nonce-failed-0123");
  fail_ = true;
  EXPECT_FALSE(dispatcher.Dispatch(request).ok());
  fail_ = false;
  absl::StatusOr<v1::Envelope> retry = dispatcher.Dispatch(request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(runs_.load(), 2);
  v1::Envelope replay = request;
  replay.set_id("id-other");
  EXPECT_EQ(ErrorCodeOf(dispatcher.Dispatch(replay).status()),
            ErrorCode::kInvalidNonce);
}

TEST_F(DispatcherIdempotencyTest, AHandlerOutlivingItsLeaseKeepsItsClaim) {
  EnvelopeDispatcher::IdempotencyOptions options;
  options.claim_lease = absl::Milliseconds(150);
  options.poll_interval = absl::Milliseconds(5);
  InMemoryIdempotencyStore store(absl::Seconds(330));
  dispatcher_->set_idempotency_store(&store, options);
  absl::Notification started;
  absl::Notification release;
  ASSERT_TRUE(
      handlers_
          .Register(
              "task.slow",
              [&](const v1::Envelope& request, const HandlerContext& context)
                  -> absl::StatusOr<v1::Envelope> {
                runs_.fetch_add(1);
                started.Notify();
                release.WaitForNotificationWithTimeout(absl::Seconds(30));
                return asap::EchoTask(request, context.manifest());
              })
          .ok());
  v1::Envelope request = Request("id-slow");
  request.set_payload_type("task.slow");
  absl::StatusOr<v1::Envelope> first;
  std::thread running([&] { first = dispatcher_->Dispatch(request); });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // The duplicate polls the claim through many of its leases: each renewed
  // by the running handler, so the duplicate never runs the handler itself.
  absl::StatusOr<v1::Envelope> duplicate;
  std::thread waiting([&] { duplicate = dispatcher_->Dispatch(request); });
  // The handler returns after its claim was renewed three times.
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (dispatcher_->claim_renewals() < 3 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(dispatcher_->claim_renewals(), 3u);
  release.Notify();
  running.join();
  waiting.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(duplicate.ok()) << duplicate.status();
  EXPECT_EQ(runs_.load(), 1);
  EXPECT_EQ(duplicate->id(), first->id());
}

TEST_F(DispatcherIdempotencyTest, SameIdOfAnotherSenderRunsAgain) {
  ASSERT_TRUE(dispatcher_->Dispatch(Request("id-1")).ok());
  v1::Envelope other = Request("id-1");
  other.set_sender("urn:asap:agent:someone-else");
  ASSERT_TRUE(dispatcher_->Dispatch(other).ok());
  EXPECT_EQ(runs_.load(), 2);
}

TEST_F(DispatcherIdempotencyTest, HandlerErrorsAreNotKept) {
  fail_ = true;
  EXPECT_FALSE(dispatcher_->Dispatch(Request("id-1")).ok());
  fail_ = false;
  EXPECT_TRUE(dispatcher_->Dispatch(Request("id-1")).ok());
  EXPECT_EQ(runs_.load(), 2);
}

TEST_F(DispatcherIdempotencyTest, ValidationFailuresAreNotRecorded) {
  v1::Envelope invalid = Request("id-1");
  invalid.set_sender("not-a-urn");
  EXPECT_FALSE(dispatcher_->Dispatch(invalid).ok());
  EXPECT_EQ(store_.size(), 0u);
}

TEST_F(DispatcherIdempotencyTest, ConcurrentDuplicatesRunOnce) {
  delay_ = absl::Milliseconds(100);
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<v1::Envelope>> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = dispatcher_->Dispatch(Request("id-c")); });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(runs_.load(), 1);
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->id(), results[0]->id());
  }
}

TEST_F(DispatcherIdempotencyTest, BusyPastTheDeadlineIsUnavailable) {
  delay_ = absl::Milliseconds(500);
  std::thread holder([&] { (void)dispatcher_->Dispatch(Request("id-b")); });
  while (runs_.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  v1::Envelope request = Request("id-b");
  HandlerContext context(&manifest_);
  context.set_deadline(absl::Now() + absl::Milliseconds(50));
  absl::Notification finished;
  absl::StatusOr<v1::Envelope> result;
  dispatcher_->Dispatch(&request, &context, /*may_block=*/true,
                        [&](absl::StatusOr<v1::Envelope> response) {
                          result = std::move(response);
                          finished.Notify();
                        });
  finished.WaitForNotification();
  holder.join();
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnavailable);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("in progress elsewhere, retry"));
  EXPECT_EQ(runs_.load(), 1);
}

}  // namespace
}  // namespace asap
