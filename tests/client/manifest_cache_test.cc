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

namespace asap {
namespace {

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

// Waits until `done()` is true or kWaitBound passes; returns `done()`.
bool WaitUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + kWaitBound;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Microseconds(100));
  }
  return true;
}

class ManifestCacheTest : public ::testing::Test {
 protected:
  ManifestCacheOptions Options() {
    ManifestCacheOptions options;
    options.clock = &clock_;
    return options;
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
  clock_.Advance(absl::Minutes(5) - absl::Nanoseconds(1));
  EXPECT_THAT(cache.Get("a"), NotNull());
  clock_.Advance(absl::Nanoseconds(1));
  EXPECT_THAT(cache.Get("a"), IsNull());
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
  ASSERT_TRUE(cache
                  .GetOrFetch("a",
                              [] {
                                return absl::StatusOr<FetchResult>(FetchResult{
                                    MakeManifest("a"), absl::Seconds(30)});
                              })
                  .ok());
  clock_.Advance(absl::Seconds(30) - absl::Nanoseconds(1));
  EXPECT_THAT(cache.Get("a"), NotNull());
  clock_.Advance(absl::Nanoseconds(1));
  EXPECT_THAT(cache.Get("a"), IsNull());
}

TEST_F(ManifestCacheTest, ServerTtlHintLongerThanDefaultIsBoundedByDefault) {
  ManifestCache cache(Options());
  ASSERT_TRUE(cache
                  .GetOrFetch("a",
                              [] {
                                return absl::StatusOr<FetchResult>(FetchResult{
                                    MakeManifest("a"), absl::Hours(1)});
                              })
                  .ok());
  clock_.Advance(absl::Minutes(5) - absl::Nanoseconds(1));
  EXPECT_THAT(cache.Get("a"), NotNull());
  clock_.Advance(absl::Nanoseconds(1));
  EXPECT_THAT(cache.Get("a"), IsNull());
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
    if (WaitUntil([&] { return cache.stats().misses >= kThreads; })) {
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
    if (!WaitUntil([&] { return cache.stats().misses >= kThreads; })) {
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

}  // namespace
}  // namespace asap
