#include "client/manifest_cache.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/time/fake_clock.h"
#include "asap/v1/manifest.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

using ::asap::testing::WaitUntil;
using ::testing::IsNull;
using ::testing::NotNull;
using FetchResult = ManifestCache::FetchResult;
using ManifestPtr = std::shared_ptr<const v1::Manifest>;

// Upper bound on every wait in the concurrency tests: a deadlock guard that
// turns a hang into a failure, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(20);

v1::Manifest MakeManifest(const std::string& id) {
  v1::Manifest manifest;
  manifest.set_id(id);
  manifest.set_name("agent " + id);
  return manifest;
}

// A fetch's answer: manifest `id`, with `etag` and the server's `ttl` hint.
FetchResult Fetched(const std::string& id, const std::string& etag = "",
                    std::optional<absl::Duration> ttl = std::nullopt) {
  FetchResult result;
  result.manifest = MakeManifest(id);
  result.ttl = ttl;
  result.etag = etag;
  return result;
}

class ManifestCacheTest : public ::testing::Test {
 protected:
  ManifestCacheOptions Options() {
    ManifestCacheOptions options;
    options.clock = &clock_;
    return options;
  }

  // Expects `key` to stay fresh in `cache` for exactly `ttl` from now: a hit
  // a nanosecond before, a miss at `ttl`. Advances the clock by `ttl`.
  void ExpectFreshFor(ManifestCache& cache, const std::string& key,
                      absl::Duration ttl) {
    clock_.Advance(ttl - absl::Nanoseconds(1));
    EXPECT_THAT(cache.Get(key), NotNull());
    clock_.Advance(absl::Nanoseconds(1));
    EXPECT_THAT(cache.Get(key), IsNull());
  }

  FakeClock clock_;
};

TEST_F(ManifestCacheTest, GetOnEmptyCacheMisses) {
  ManifestCache cache(Options());
  EXPECT_THAT(cache.Get("urn:asap:agent:a"), IsNull());
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST_F(ManifestCacheTest, GetAfterSetHits) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"));
  ManifestPtr got = cache.Get("a");
  ASSERT_THAT(got, NotNull());
  EXPECT_EQ(got->id(), "a");
  EXPECT_EQ(got->name(), "agent a");
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 0u);
}

TEST_F(ManifestCacheTest, EntryExpiresExactlyAtDefaultTtl) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"));
  ExpectFreshFor(cache, "a", absl::Minutes(5));
}

TEST_F(ManifestCacheTest, ExpiredEntryIsRemovedOnGet) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"));
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(cache.size(), 1u);  // Expiry is lazy.
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_EQ(cache.size(), 0u);
  // Moving the clock back does not resurrect it.
  clock_.Advance(-absl::Minutes(5));
  EXPECT_THAT(cache.Get("a"), IsNull());
}

TEST_F(ManifestCacheTest, PerEntryTtlOverridesDefault) {
  ManifestCache cache(Options());
  cache.Set("short", MakeManifest("short"), absl::Seconds(10));
  cache.Set("long", MakeManifest("long"), absl::Minutes(10));

  clock_.Advance(absl::Seconds(10));
  EXPECT_THAT(cache.Get("short"), IsNull());
  clock_.Advance(absl::Minutes(5));  // Past the 5-minute default.
  EXPECT_THAT(cache.Get("long"), NotNull());
  clock_.Advance(absl::Minutes(5) - absl::Seconds(10));  // t = 10 min.
  EXPECT_THAT(cache.Get("long"), IsNull());
}

TEST_F(ManifestCacheTest, SetWithNonPositiveTtlStoresNothingAndRemovesEntry) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"));
  cache.Set("a", MakeManifest("a2"), absl::ZeroDuration());
  cache.Set("b", MakeManifest("b"), -absl::Seconds(1));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_THAT(cache.Get("b"), IsNull());
}

TEST_F(ManifestCacheTest, SetReplacesExistingEntryAndItsTtl) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("old"));
  clock_.Advance(absl::Minutes(4));
  cache.Set("a", MakeManifest("new"));
  clock_.Advance(absl::Minutes(4));  // 8 min after the first Set.
  ManifestPtr got = cache.Get("a");
  ASSERT_THAT(got, NotNull());
  EXPECT_EQ(got->id(), "new");
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(ManifestCacheTest, ServerTtlHintShorterThanDefaultIsUsed) {
  ManifestCache cache(Options());
  ASSERT_TRUE(
      cache.GetOrFetch("a", [] { return Fetched("a", "", absl::Seconds(30)); })
          .ok());
  ExpectFreshFor(cache, "a", absl::Seconds(30));
}

TEST_F(ManifestCacheTest, ServerTtlHintLongerThanDefaultIsBoundedByDefault) {
  ManifestCache cache(Options());
  ASSERT_TRUE(
      cache.GetOrFetch("a", [] { return Fetched("a", "", absl::Hours(1)); })
          .ok());
  ExpectFreshFor(cache, "a", absl::Minutes(5));
}

TEST_F(ManifestCacheTest, ServerTtlHintOfZeroReturnsManifestWithoutCaching) {
  ManifestCache cache(Options());
  absl::StatusOr<ManifestPtr> got = cache.GetOrFetch("a", [] {
    return absl::StatusOr<FetchResult>(
        FetchResult{MakeManifest("a"), absl::ZeroDuration()});
  });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->id(), "a");
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ManifestCacheTest, LeastRecentlyUsedEntryIsEvicted) {
  ManifestCacheOptions options = Options();
  options.max_size = 2;
  ManifestCache cache(options);
  cache.Set("a", MakeManifest("a"));
  cache.Set("b", MakeManifest("b"));
  ASSERT_THAT(cache.Get("a"), NotNull());  // a is now most recently used.
  cache.Set("c", MakeManifest("c"));

  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_THAT(cache.Get("b"), IsNull());
  EXPECT_THAT(cache.Get("a"), NotNull());
  EXPECT_THAT(cache.Get("c"), NotNull());
}

TEST_F(ManifestCacheTest, MaxSizeZeroIsUnlimited) {
  ManifestCacheOptions options = Options();
  options.max_size = 0;
  ManifestCache cache(options);
  for (int i = 0; i < 5000; ++i) {
    cache.Set("agent-" + std::to_string(i), MakeManifest(std::to_string(i)));
  }
  EXPECT_EQ(cache.size(), 5000u);
  EXPECT_EQ(cache.stats().evictions, 0u);
  EXPECT_THAT(cache.Get("agent-0"), NotNull());
}

TEST_F(ManifestCacheTest, InvalidateRemovesOnlyThatEntry) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"));
  cache.Set("b", MakeManifest("b"));
  cache.Invalidate("a");
  cache.Invalidate("missing");  // No-op.
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_THAT(cache.Get("b"), NotNull());
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(ManifestCacheTest, ClearAllRemovesEveryEntry) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"));
  cache.Set("b", MakeManifest("b"));
  cache.ClearAll();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_THAT(cache.Get("b"), IsNull());
}

TEST_F(ManifestCacheTest, SizeCountsDistinctKeys) {
  ManifestCache cache(Options());
  EXPECT_EQ(cache.size(), 0u);
  cache.Set("a", MakeManifest("a"));
  EXPECT_EQ(cache.size(), 1u);
  cache.Set("b", MakeManifest("b"));
  EXPECT_EQ(cache.size(), 2u);
  cache.Set("a", MakeManifest("a2"));
  EXPECT_EQ(cache.size(), 2u);
  cache.Invalidate("b");
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(ManifestCacheTest, GetOrFetchFetchesOnMissThenHits) {
  ManifestCache cache(Options());
  int calls = 0;
  auto fetch = [&]() -> absl::StatusOr<FetchResult> {
    ++calls;
    return FetchResult{MakeManifest("a"), std::nullopt};
  };

  absl::StatusOr<ManifestPtr> first = cache.GetOrFetch("a", fetch);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->id(), "a");
  absl::StatusOr<ManifestPtr> second = cache.GetOrFetch("a", fetch);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->get(), first->get());  // The same cached object.

  EXPECT_EQ(calls, 1);
  ManifestCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.fetches, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 1u);
}

TEST_F(ManifestCacheTest, GetOrFetchFetchesAgainAfterExpiry) {
  ManifestCache cache(Options());
  int calls = 0;
  auto fetch = [&]() -> absl::StatusOr<FetchResult> {
    ++calls;
    return FetchResult{MakeManifest("a"), std::nullopt};
  };
  ASSERT_TRUE(cache.GetOrFetch("a", fetch).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(cache.GetOrFetch("a", fetch).ok());
  EXPECT_EQ(calls, 2);
}

TEST_F(ManifestCacheTest, GetOrFetchErrorInvalidatesEntryAndIsNotCached) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"), absl::Seconds(10));
  clock_.Advance(absl::Seconds(10));  // Expired, but still held.
  ASSERT_EQ(cache.size(), 1u);

  const absl::Status error =
      AsapError(ErrorCode::kUnavailable, "agent unreachable");
  int calls = 0;
  auto failing = [&]() -> absl::StatusOr<FetchResult> {
    ++calls;
    return error;
  };
  absl::StatusOr<ManifestPtr> got = cache.GetOrFetch("a", failing);
  EXPECT_EQ(got.status(), error);
  EXPECT_EQ(cache.size(), 0u);

  // The error was not cached: the next call fetches again.
  EXPECT_EQ(cache.GetOrFetch("a", failing).status(), error);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache.stats().fetches, 2u);
}

TEST_F(ManifestCacheTest, InvalidateDuringFetchKeepsResultOutOfCache) {
  ManifestCache cache(Options());
  absl::StatusOr<ManifestPtr> got = cache.GetOrFetch("a", [&] {
    cache.Invalidate("a");  // Lock-free while fetching, so this is allowed.
    return absl::StatusOr<FetchResult>(
        FetchResult{MakeManifest("a"), std::nullopt});
  });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->id(), "a");
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ManifestCacheTest, SetDuringFetchIsNotOverwrittenByFetchResult) {
  ManifestCache cache(Options());
  absl::StatusOr<ManifestPtr> got = cache.GetOrFetch("a", [&] {
    cache.Set("a", MakeManifest("set"));
    return absl::StatusOr<FetchResult>(
        FetchResult{MakeManifest("fetched"), std::nullopt});
  });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->id(), "fetched");
  ManifestPtr cached = cache.Get("a");
  ASSERT_THAT(cached, NotNull());
  EXPECT_EQ(cached->id(), "set");
}

TEST_F(ManifestCacheTest, FetchThatThrowsLeavesKeyFetchable) {
  ManifestCache cache(Options());
  EXPECT_THROW(cache
                   .GetOrFetch("a",
                               []() -> absl::StatusOr<FetchResult> {
                                 throw std::runtime_error("boom");
                               })
                   .IgnoreError(),
               std::runtime_error);
  absl::StatusOr<ManifestPtr> got = cache.GetOrFetch("a", [] {
    return absl::StatusOr<FetchResult>(
        FetchResult{MakeManifest("a"), std::nullopt});
  });
  EXPECT_TRUE(got.ok()) << got.status();
}

// Runs GetOrFetch(key, fetch) on `threads` threads released together and
// returns their results.
std::vector<absl::StatusOr<ManifestPtr>> GetOrFetchConcurrently(
    ManifestCache& cache, const std::string& key, int threads,
    const std::function<absl::StatusOr<FetchResult>()>& fetch) {
  std::vector<absl::StatusOr<ManifestPtr>> results(
      threads, absl::UnknownError("not run"));
  absl::Notification start;
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      start.WaitForNotification();
      results[i] = cache.GetOrFetch(key, fetch);
    });
  }
  start.Notify();
  for (std::thread& worker : workers) worker.join();
  return results;
}

TEST_F(ManifestCacheTest, ConcurrentMissesOfSameKeyFetchOnce) {
  constexpr int kThreads = 16;
  ManifestCache cache(Options());
  std::atomic<int> fetch_calls{0};
  absl::Notification all_entered;
  // The fetch blocks until all kThreads callers have missed (each counts a
  // miss under the cache's lock before it fetches or waits), so every caller
  // is inside GetOrFetch while the fetch is in flight.
  std::thread watcher([&] {
    if (WaitUntil([&] { return cache.stats().misses >= kThreads; },
                  kWaitBound)) {
      all_entered.Notify();
    }
  });
  auto fetch = [&]() -> absl::StatusOr<FetchResult> {
    fetch_calls.fetch_add(1);
    if (!all_entered.WaitForNotificationWithTimeout(kWaitBound)) {
      return absl::DeadlineExceededError("not all callers entered GetOrFetch");
    }
    return FetchResult{MakeManifest("a"), std::nullopt};
  };

  std::vector<absl::StatusOr<ManifestPtr>> results =
      GetOrFetchConcurrently(cache, "a", kThreads, fetch);
  watcher.join();

  EXPECT_EQ(fetch_calls.load(), 1);
  ASSERT_EQ(results.size(), static_cast<size_t>(kThreads));
  for (const absl::StatusOr<ManifestPtr>& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ((*result)->id(), "a");
    EXPECT_EQ(result->get(), results[0]->get());  // One shared manifest.
  }
  ManifestCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.fetches, 1u);
  EXPECT_EQ(stats.misses, static_cast<uint64_t>(kThreads));
  EXPECT_EQ(stats.hits, 0u);
  EXPECT_THAT(cache.Get("a"), NotNull());
}

TEST_F(ManifestCacheTest, ConcurrentMissesOfSameKeyShareFetchError) {
  constexpr int kThreads = 4;
  ManifestCache cache(Options());
  const absl::Status error =
      AsapError(ErrorCode::kDeadlineExceeded, "manifest fetch timed out");
  std::atomic<int> fetch_calls{0};
  auto fetch = [&]() -> absl::StatusOr<FetchResult> {
    fetch_calls.fetch_add(1);
    if (!WaitUntil([&] { return cache.stats().misses >= kThreads; },
                   kWaitBound)) {
      return absl::DeadlineExceededError("not all callers entered GetOrFetch");
    }
    return error;
  };

  std::vector<absl::StatusOr<ManifestPtr>> results =
      GetOrFetchConcurrently(cache, "a", kThreads, fetch);

  EXPECT_EQ(fetch_calls.load(), 1);
  for (const absl::StatusOr<ManifestPtr>& result : results) {
    EXPECT_EQ(result.status(), error);
  }
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ManifestCacheTest, ConcurrentMissesOfDifferentKeysFetchIndependently) {
  ManifestCache cache(Options());
  absl::Notification a_started;
  absl::Notification b_started;
  // Each fetch waits for the other to start: this only completes if the two
  // fetches run at the same time.
  auto fetch_for = [&](const std::string& key, absl::Notification& mine,
                       absl::Notification& other) {
    return [&, key]() -> absl::StatusOr<FetchResult> {
      mine.Notify();
      if (!other.WaitForNotificationWithTimeout(kWaitBound)) {
        return absl::DeadlineExceededError("fetches were serialized");
      }
      return FetchResult{MakeManifest(key), std::nullopt};
    };
  };
  absl::StatusOr<ManifestPtr> a = absl::UnknownError("not run");
  absl::StatusOr<ManifestPtr> b = absl::UnknownError("not run");
  std::thread thread_a(
      [&] { a = cache.GetOrFetch("a", fetch_for("a", a_started, b_started)); });
  std::thread thread_b(
      [&] { b = cache.GetOrFetch("b", fetch_for("b", b_started, a_started)); });
  thread_a.join();
  thread_b.join();

  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*a)->id(), "a");
  EXPECT_EQ((*b)->id(), "b");
  EXPECT_EQ(cache.stats().fetches, 2u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ManifestCacheRealClockTest, DefaultOptionsUseRealClock) {
  ManifestCache cache;
  cache.Set("a", MakeManifest("a"));
  EXPECT_THAT(cache.Get("a"), NotNull());
}

// ---------------------------------------------------------------------------
// Revalidation: GetOrRevalidate(), FetchResult::etag / not_modified.

using Validator = ManifestCache::Validator;

FetchResult NotModified(std::optional<absl::Duration> ttl = std::nullopt,
                        const std::string& etag = "") {
  FetchResult result;
  result.not_modified = true;
  result.ttl = ttl;
  result.etag = etag;
  return result;
}

// What one GetOrRevalidate() fetch was offered.
struct Offer {
  bool called = false;
  bool has_validator = false;
  const v1::Manifest* manifest = nullptr;  // The validator's manifest.
  std::string etag;
};

// GetOrRevalidate(key) with a fetch that records what it is offered in
// `offer` and answers `answer`.
absl::StatusOr<ManifestPtr> Revalidate(ManifestCache& cache,
                                       const std::string& key, Offer* offer,
                                       absl::StatusOr<FetchResult> answer) {
  *offer = Offer();
  return cache.GetOrRevalidate(
      key, [&](const Validator* stale) -> absl::StatusOr<FetchResult> {
        offer->called = true;
        if (stale != nullptr) {
          offer->has_validator = true;
          offer->manifest = stale->manifest.get();
          offer->etag = stale->etag;
        }
        return answer;
      });
}

TEST_F(ManifestCacheTest, RevalidateFirstFetchGetsNoValidatorAndStoresEtag) {
  ManifestCache cache(Options());
  Offer offer;
  absl::StatusOr<ManifestPtr> first =
      Revalidate(cache, "a", &offer, Fetched("a", "\"v1\""));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(offer.called);
  EXPECT_FALSE(offer.has_validator);
  EXPECT_EQ((*first)->id(), "a");

  // Fresh for default_ttl: a hit, no fetch.
  absl::StatusOr<ManifestPtr> hit =
      Revalidate(cache, "a", &offer, Fetched("unexpected", ""));
  ASSERT_TRUE(hit.ok()) << hit.status();
  EXPECT_FALSE(offer.called);
  EXPECT_EQ(hit->get(), first->get());

  // Expired: the fetch is offered the old manifest and its etag.
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<ManifestPtr> again =
      Revalidate(cache, "a", &offer, NotModified());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(offer.called);
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(offer.manifest, first->get());
  EXPECT_EQ(offer.etag, "\"v1\"");
}

TEST_F(ManifestCacheTest, ExpiredEntryWithEtagIsKeptButMisses) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));  // Expired exactly now.
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_EQ(cache.size(), 1u);  // Kept for revalidation.
  ManifestCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.misses, 2u);  // The first fetch and the Get().
  EXPECT_EQ(stats.hits, 0u);
  EXPECT_EQ(stats.fetches, 1u);
}

TEST_F(ManifestCacheTest, NotModifiedReturnsOldManifestFreshForNewTtl) {
  ManifestCache cache(Options());
  Offer offer;
  absl::StatusOr<ManifestPtr> first =
      Revalidate(cache, "a", &offer, Fetched("a", "e1", absl::Seconds(30)));
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(absl::Seconds(30));

  absl::StatusOr<ManifestPtr> revalidated =
      Revalidate(cache, "a", &offer, NotModified(absl::Seconds(60)));
  ASSERT_TRUE(revalidated.ok()) << revalidated.status();
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(revalidated->get(), first->get());  // The same object.

  ManifestCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.revalidations, 1u);
  EXPECT_EQ(stats.fetches, 2u);
  EXPECT_EQ(stats.misses, 2u);

  // Fresh for the new ttl (60 s from the revalidation), not the old one.
  clock_.Advance(absl::Seconds(59));
  ManifestPtr hit = cache.Get("a");
  ASSERT_THAT(hit, NotNull());
  EXPECT_EQ(hit.get(), first->get());
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(cache.Get("a"), IsNull());

  // Still revalidatable with the same etag.
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(offer.etag, "e1");
  EXPECT_EQ(cache.stats().revalidations, 2u);
}

TEST_F(ManifestCacheTest, NotModifiedTtlIsBoundedByDefaultTtl) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified(absl::Hours(1))).ok());
  ExpectFreshFor(cache, "a", absl::Minutes(5));
}

TEST_F(ManifestCacheTest, NotModifiedWithNewEtagKeepsTheNewEtag) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(
      Revalidate(cache, "a", &offer, NotModified(std::nullopt, "e2")).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(offer.etag, "e2");
}

TEST_F(ManifestCacheTest, ModifiedAnswerReplacesManifestAndEtag) {
  ManifestCache cache(Options());
  Offer offer;
  absl::StatusOr<ManifestPtr> first =
      Revalidate(cache, "a", &offer, Fetched("a", "e1"));
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(absl::Minutes(5));

  absl::StatusOr<ManifestPtr> second =
      Revalidate(cache, "a", &offer, Fetched("a2", "e2"));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(offer.etag, "e1");
  EXPECT_EQ((*second)->id(), "a2");
  EXPECT_NE(second->get(), first->get());
  EXPECT_EQ((*first)->id(), "a");  // The old manifest stays valid.
  EXPECT_EQ(cache.stats().revalidations, 0u);

  ManifestPtr cached = cache.Get("a");
  ASSERT_THAT(cached, NotNull());
  EXPECT_EQ(cached.get(), second->get());

  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(offer.manifest, second->get());
  EXPECT_EQ(offer.etag, "e2");
}

TEST_F(ManifestCacheTest, ModifiedAnswerWithoutEtagDropsTheOldEtag) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a2", "")).ok());
  clock_.Advance(absl::Minutes(5));
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_EQ(cache.size(), 0u);  // No etag: removed on expiry as before.
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a3", "")).ok());
  EXPECT_FALSE(offer.has_validator);
}

TEST_F(ManifestCacheTest, FetchErrorAfterExpiryRemovesTheEntry) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));

  const absl::Status error =
      AsapError(ErrorCode::kUnavailable, "agent unreachable");
  absl::StatusOr<ManifestPtr> failed = Revalidate(cache, "a", &offer, error);
  EXPECT_TRUE(offer.has_validator);
  EXPECT_EQ(failed.status(), error);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().revalidations, 0u);

  // Nothing left to revalidate.
  absl::StatusOr<ManifestPtr> refetched =
      Revalidate(cache, "a", &offer, Fetched("a", "e1"));
  ASSERT_TRUE(refetched.ok()) << refetched.status();
  EXPECT_FALSE(offer.has_validator);
}

TEST_F(ManifestCacheTest, EntryWithoutEtagIsNotOfferedForRevalidation) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "")).ok());
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<ManifestPtr> again =
      Revalidate(cache, "a", &offer, Fetched("a2", ""));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(offer.called);
  EXPECT_FALSE(offer.has_validator);
  EXPECT_EQ((*again)->id(), "a2");
}

TEST_F(ManifestCacheTest, NotModifiedWithoutStaleEntryIsAnError) {
  ManifestCache cache(Options());
  Offer offer;
  // A cold cache.
  absl::StatusOr<ManifestPtr> cold =
      Revalidate(cache, "a", &offer, NotModified());
  EXPECT_FALSE(offer.has_validator);
  ASSERT_FALSE(cold.ok());
  EXPECT_EQ(cold.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cache.size(), 0u);

  // An expired entry without an etag was not offered, so "not modified"
  // cannot refer to it.
  cache.Set("b", MakeManifest("b"), absl::Seconds(10));
  clock_.Advance(absl::Seconds(10));
  absl::StatusOr<ManifestPtr> unoffered =
      Revalidate(cache, "b", &offer, NotModified());
  EXPECT_FALSE(offer.has_validator);
  ASSERT_FALSE(unoffered.ok());
  EXPECT_EQ(unoffered.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().revalidations, 0u);

  // The error is not cached.
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  EXPECT_TRUE(offer.called);
}

TEST_F(ManifestCacheTest, MaxAgeZeroWithEtagRevalidatesOnNextCall) {
  ManifestCache cache(Options());
  Offer offer;
  absl::StatusOr<ManifestPtr> first =
      Revalidate(cache, "a", &offer, Fetched("a", "e1", absl::ZeroDuration()));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->id(), "a");
  EXPECT_EQ(cache.size(), 1u);            // Kept, stale at once.
  EXPECT_THAT(cache.Get("a"), IsNull());  // Without moving the clock.

  absl::StatusOr<ManifestPtr> second =
      Revalidate(cache, "a", &offer, NotModified(absl::ZeroDuration()));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(offer.has_validator);
  EXPECT_EQ(offer.manifest, first->get());
  EXPECT_EQ(offer.etag, "e1");
  EXPECT_EQ(second->get(), first->get());

  // Still stale at once: every call revalidates.
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  EXPECT_TRUE(offer.has_validator);
  ManifestCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.revalidations, 2u);
  EXPECT_EQ(stats.fetches, 3u);
  EXPECT_EQ(stats.hits, 0u);

  // The last answer had no ttl: fresh for default_ttl now.
  EXPECT_THAT(cache.Get("a"), NotNull());
}

TEST_F(ManifestCacheTest, NegativeTtlWithEtagIsStaleAtOnce) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(
      Revalidate(cache, "a", &offer, Fetched("a", "e1", absl::Seconds(-5)))
          .ok());
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  EXPECT_TRUE(offer.has_validator);
}

TEST_F(ManifestCacheTest, NonPositiveDefaultTtlWithEtagIsStaleAtOnce) {
  ManifestCacheOptions options = Options();
  options.default_ttl = absl::ZeroDuration();
  ManifestCache cache(options);
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  EXPECT_TRUE(offer.has_validator);
  // Without an etag nothing is kept, as before.
  ASSERT_TRUE(Revalidate(cache, "b", &offer, Fetched("b", "")).ok());
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(ManifestCacheTest, SetStoresWithoutEtagAsBefore) {
  ManifestCache cache(Options());
  cache.Set("a", MakeManifest("a"), absl::Seconds(10));
  Offer offer;
  absl::StatusOr<ManifestPtr> hit =
      Revalidate(cache, "a", &offer, Fetched("unexpected", ""));
  ASSERT_TRUE(hit.ok()) << hit.status();
  EXPECT_FALSE(offer.called);
  EXPECT_EQ((*hit)->id(), "a");

  clock_.Advance(absl::Seconds(10));
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_EQ(cache.size(), 0u);  // Removed on expiry, as before.
}

TEST_F(ManifestCacheTest, SetOverEntryWithEtagDropsTheEtag) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  cache.Set("a", MakeManifest("set"), absl::Seconds(10));
  ManifestPtr cached = cache.Get("a");
  ASSERT_THAT(cached, NotNull());
  EXPECT_EQ(cached->id(), "set");

  clock_.Advance(absl::Seconds(10));
  absl::StatusOr<ManifestPtr> refetched =
      Revalidate(cache, "a", &offer, Fetched("a2", ""));
  ASSERT_TRUE(refetched.ok()) << refetched.status();
  EXPECT_FALSE(offer.has_validator);
  EXPECT_EQ((*refetched)->id(), "a2");
}

TEST_F(ManifestCacheTest, SetWithNonPositiveTtlRemovesEntryWithEtag) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  cache.Set("a", MakeManifest("a"), absl::ZeroDuration());
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(ManifestCacheTest, InvalidateRemovesEntryKeptForRevalidation) {
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));
  cache.Invalidate("a");
  EXPECT_EQ(cache.size(), 0u);
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  EXPECT_FALSE(offer.has_validator);
}

TEST_F(ManifestCacheTest, InvalidateDuringRevalidationKeepsResultOutOfCache) {
  ManifestCache cache(Options());
  Offer offer;
  absl::StatusOr<ManifestPtr> first =
      Revalidate(cache, "a", &offer, Fetched("a", "e1"));
  ASSERT_TRUE(first.ok());
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<ManifestPtr> got = cache.GetOrRevalidate(
      "a", [&](const Validator* stale) -> absl::StatusOr<FetchResult> {
        EXPECT_NE(stale, nullptr);
        cache.Invalidate("a");
        return NotModified();
      });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->get(), first->get());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().revalidations, 1u);
}

TEST_F(ManifestCacheTest, GetOrFetchReplacesEntryKeptForRevalidation) {
  // GetOrFetch() knows nothing of validators: it fetches the whole manifest.
  ManifestCache cache(Options());
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<ManifestPtr> got = cache.GetOrFetch(
      "a", [] { return absl::StatusOr<FetchResult>(Fetched("a2", "")); });
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->id(), "a2");
  ManifestPtr cached = cache.Get("a");
  ASSERT_THAT(cached, NotNull());
  EXPECT_EQ(cached->id(), "a2");
}

TEST_F(ManifestCacheTest, LruEvictionDropsEntriesKeptForRevalidation) {
  ManifestCacheOptions options = Options();
  options.max_size = 2;
  ManifestCache cache(options);
  Offer offer;
  ASSERT_TRUE(
      Revalidate(cache, "a", &offer, Fetched("a", "e1", absl::Seconds(10)))
          .ok());
  ASSERT_TRUE(Revalidate(cache, "b", &offer, Fetched("b", "e2")).ok());
  clock_.Advance(absl::Seconds(10));  // "a" is stale, "b" fresh.
  EXPECT_THAT(cache.Get("a"), IsNull());
  EXPECT_EQ(cache.size(), 2u);

  // A third key evicts the least recently used entry, the stale "a".
  ASSERT_TRUE(Revalidate(cache, "c", &offer, Fetched("c", "e3")).ok());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_THAT(cache.Get("b"), NotNull());
  EXPECT_THAT(cache.Get("c"), NotNull());

  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  EXPECT_FALSE(offer.has_validator);  // Evicted: nothing to revalidate.
}

TEST_F(ManifestCacheTest, StaleEntriesCountTowardsMaxSize) {
  ManifestCacheOptions options = Options();
  options.max_size = 2;
  ManifestCache cache(options);
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  ASSERT_TRUE(Revalidate(cache, "b", &offer, Fetched("b", "e2")).ok());
  clock_.Advance(absl::Minutes(5));  // Both stale, both kept.
  EXPECT_EQ(cache.size(), 2u);
  // Revalidating "a" makes it the most recently used: "c" evicts "b".
  ASSERT_TRUE(Revalidate(cache, "a", &offer, NotModified()).ok());
  ASSERT_TRUE(Revalidate(cache, "c", &offer, Fetched("c", "e3")).ok());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_THAT(cache.Get("a"), NotNull());
  ASSERT_TRUE(Revalidate(cache, "b", &offer, Fetched("b", "")).ok());
  EXPECT_FALSE(offer.has_validator);
}

// A FakeClock that notifies once when it is next read. ManifestCache reads
// its clock under its lock when a lookup finds an entry, and keeps the lock
// from there until it fetches or waits on a fetch in flight, so a read seen
// while a fetch is blocked tells the test that another caller has reached
// that lookup (and will join the fetch) — without sleeping or polling.
class NotifyingClock final : public Clock {
 public:
  absl::Time Now() const override {
    if (absl::Notification* notification = armed_.exchange(nullptr)) {
      notification->Notify();
    }
    return clock_.Now();
  }
  void Advance(absl::Duration delta) { clock_.Advance(delta); }
  // Notifies `notification` on the next Now().
  void NotifyOnNextRead(absl::Notification* notification) {
    armed_.store(notification);
  }

 private:
  FakeClock clock_;
  mutable std::atomic<absl::Notification*> armed_{nullptr};
};

TEST(ManifestCacheRevalidationFlightTest, ConcurrentRevalidationsFetchOnce) {
  NotifyingClock clock;
  ManifestCacheOptions options;
  options.clock = &clock;
  ManifestCache cache(options);
  Offer offer;
  absl::StatusOr<ManifestPtr> first =
      Revalidate(cache, "a", &offer, Fetched("a", "e1"));
  ASSERT_TRUE(first.ok()) << first.status();
  clock.Advance(absl::Minutes(5));

  absl::Notification fetch_started;
  absl::Notification second_caller_looked_up;
  std::atomic<int> fetch_calls{0};
  std::atomic<int> offers_with_validator{0};
  auto fetch = [&](const Validator* stale) -> absl::StatusOr<FetchResult> {
    fetch_calls.fetch_add(1);
    if (stale != nullptr && stale->etag == "e1") {
      offers_with_validator.fetch_add(1);
    }
    fetch_started.Notify();
    // Deadlock guard, not a timing threshold.
    if (!second_caller_looked_up.WaitForNotificationWithTimeout(kWaitBound)) {
      return absl::DeadlineExceededError("the second caller never arrived");
    }
    return NotModified(absl::Seconds(60));
  };

  absl::StatusOr<ManifestPtr> leader = absl::UnknownError("not run");
  absl::StatusOr<ManifestPtr> joiner = absl::UnknownError("not run");
  std::thread leader_thread(
      [&] { leader = cache.GetOrRevalidate("a", fetch); });
  fetch_started.WaitForNotification();
  // The leader's fetch is in flight and reads no clock until it returns.
  clock.NotifyOnNextRead(&second_caller_looked_up);
  std::thread joiner_thread(
      [&] { joiner = cache.GetOrRevalidate("a", fetch); });
  leader_thread.join();
  joiner_thread.join();

  EXPECT_EQ(fetch_calls.load(), 1);
  EXPECT_EQ(offers_with_validator.load(), 1);
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(joiner.ok()) << joiner.status();
  EXPECT_EQ(leader->get(), first->get());
  EXPECT_EQ(joiner->get(), first->get());
  ManifestCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.fetches, 2u);  // The first fetch and one revalidation.
  EXPECT_EQ(stats.revalidations, 1u);
  EXPECT_EQ(stats.misses, 3u);  // The first fetch, the leader, the joiner.
  EXPECT_EQ(stats.hits, 0u);
  EXPECT_THAT(cache.Get("a"), NotNull());
}

TEST(ManifestCacheRevalidationFlightTest, ConcurrentRevalidationsShareError) {
  NotifyingClock clock;
  ManifestCacheOptions options;
  options.clock = &clock;
  ManifestCache cache(options);
  Offer offer;
  ASSERT_TRUE(Revalidate(cache, "a", &offer, Fetched("a", "e1")).ok());
  clock.Advance(absl::Minutes(5));

  const absl::Status error =
      AsapError(ErrorCode::kDeadlineExceeded, "manifest fetch timed out");
  absl::Notification fetch_started;
  absl::Notification second_caller_looked_up;
  std::atomic<int> fetch_calls{0};
  auto fetch = [&](const Validator*) -> absl::StatusOr<FetchResult> {
    fetch_calls.fetch_add(1);
    fetch_started.Notify();
    if (!second_caller_looked_up.WaitForNotificationWithTimeout(kWaitBound)) {
      return absl::DeadlineExceededError("the second caller never arrived");
    }
    return error;
  };
  absl::StatusOr<ManifestPtr> leader = absl::UnknownError("not run");
  absl::StatusOr<ManifestPtr> joiner = absl::UnknownError("not run");
  std::thread leader_thread(
      [&] { leader = cache.GetOrRevalidate("a", fetch); });
  fetch_started.WaitForNotification();
  clock.NotifyOnNextRead(&second_caller_looked_up);
  std::thread joiner_thread(
      [&] { joiner = cache.GetOrRevalidate("a", fetch); });
  leader_thread.join();
  joiner_thread.join();

  EXPECT_EQ(fetch_calls.load(), 1);
  EXPECT_EQ(leader.status(), error);
  EXPECT_EQ(joiner.status(), error);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().revalidations, 0u);
}

}  // namespace
}  // namespace asap
