// ManifestCache: a client-side, thread-safe cache of agent manifests.
//
// A client resolves an agent's manifest (asap::v1::Manifest) before talking to
// it. ManifestCache keeps recently fetched manifests so repeated lookups do not
// go to the network:
//
//   * Entries expire after a time-to-live: `ManifestCacheOptions::default_ttl`
//     (5 minutes), or a per-entry ttl given to Set(). Expiry is exact: an entry
//     stored at time t with ttl T is fresh while now < t + T and expired from
//     now == t + T on.
//   * At most `ManifestCacheOptions::max_size` entries are kept; storing one
//     more evicts the least recently used entry. Get() and GetOrFetch() hits
//     make an entry the most recently used. All operations are O(1).
//   * GetOrFetch() is single-flight: concurrent misses for the same key run
//     one fetch and all share its result (the manifest, or the same error).
//
// Manifests are handed out as `std::shared_ptr<const asap::v1::Manifest>`:
// a hit costs a reference-count increment instead of a copy of the message,
// and the manifest stays valid for the holder even after the entry is
// evicted, invalidated or replaced. Cached manifests are immutable.
//
// Example:
//
//   asap::ManifestCache cache;  // 5-minute ttl, 1000 entries, real clock
//   auto fetch = [&]() -> absl::StatusOr<asap::ManifestCache::FetchResult> {
//     ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest fetched,
//                           FetchManifestOverGrpc(agent_urn));
//     return asap::ManifestCache::FetchResult{std::move(fetched),
//                                             /*ttl=*/std::nullopt};
//   };
//   absl::StatusOr<std::shared_ptr<const asap::v1::Manifest>> manifest =
//       cache.GetOrFetch(agent_urn, fetch);
//   if (!manifest.ok()) return manifest.status();
//   absl::string_view endpoint = (*manifest)->endpoints().asap();
//
// Tests inject a FakeClock (asap/time/fake_clock.h) through
// `ManifestCacheOptions::clock` to control expiry without sleeping.
//
// Keys are absl::string_view. With Debian's Abseil that is not
// std::string_view: pass a std::string, a string literal or an
// absl::string_view.
#ifndef ASAP_CLIENT_MANIFEST_CACHE_H_
#define ASAP_CLIENT_MANIFEST_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/time/clock.h"
#include "asap/v1/manifest.pb.h"

namespace asap {

// Configuration of a ManifestCache.
struct ManifestCacheOptions {
  // How long an entry stays fresh when Set() is given no ttl, and the upper
  // bound of the ttl of an entry stored by GetOrFetch(). A value <= 0 disables
  // caching of such entries.
  absl::Duration default_ttl = absl::Minutes(5);

  // The most entries the cache holds; storing a new key beyond this evicts the
  // least recently used entry. 0 means unlimited.
  size_t max_size = 1000;

  // The time source; nullptr means the real clock (asap::RealClock()). Not
  // owned: it must outlive the cache. Tests inject a FakeClock.
  const Clock* clock = nullptr;
};

// A thread-safe TTL + LRU cache of manifests keyed by string (typically the
// agent URN or endpoint). All methods may be called concurrently.
class ManifestCache {
 public:
  // What a GetOrFetch() fetch function returns on success.
  struct FetchResult {
    // The fetched manifest.
    asap::v1::Manifest manifest;
    // The server's caching hint, if any. The entry's ttl is
    // min(ttl, default_ttl), or default_ttl when absent; a ttl <= 0 means the
    // manifest is returned to the callers but not cached.
    std::optional<absl::Duration> ttl;
    // The server's entity tag for the manifest, kept with the entry so that
    // a GetOrRevalidate() after expiry can ask "changed since?" (HTTP's
    // If-None-Match). Empty: none.
    std::string etag;
    // The answer to such a question was "not modified": `manifest` is unused
    // and the expired entry is fresh again for `ttl`.
    bool not_modified = false;
  };

  // An expired entry that can be revalidated (it has an entity tag).
  struct Validator {
    std::shared_ptr<const asap::v1::Manifest> manifest;
    std::string etag;
  };

  // Counters for benchmarks and tests. They only ever grow (ClearAll() does
  // not reset them).
  struct Stats {
    // Lookups (Get() or GetOrFetch()) that found a fresh entry.
    uint64_t hits = 0;
    // Lookups that found no fresh entry, including GetOrFetch() callers that
    // joined a fetch already in flight.
    uint64_t misses = 0;
    // Fetch functions started by GetOrFetch() (network fetches).
    uint64_t fetches = 0;
    // Entries removed to keep the cache within max_size. Expired entries that
    // are dropped, Invalidate() and ClearAll() are not counted.
    uint64_t evictions = 0;
    // Fetches answered "not modified" (an expired entry made fresh again
    // without a new body).
    uint64_t revalidations = 0;
  };

  // Creates an empty cache configured by `options`.
  explicit ManifestCache(ManifestCacheOptions options = {});

  ManifestCache(const ManifestCache&) = delete;
  ManifestCache& operator=(const ManifestCache&) = delete;

  // Returns the fresh manifest cached under `key`, or nullptr when there is
  // none. A hit makes the entry the most recently used; an expired entry found
  // here is removed.
  std::shared_ptr<const asap::v1::Manifest> Get(absl::string_view key);

  // Caches `manifest` under `key` for `ttl` (default_ttl when nullopt; a
  // per-entry ttl may be longer or shorter than default_ttl), replacing any
  // existing entry and making it the most recently used. May evict the least
  // recently used entry. A ttl <= 0 stores nothing and removes any existing
  // entry for `key`. A GetOrFetch() fetch for `key` in flight will not
  // overwrite the value set here.
  void Set(absl::string_view key, asap::v1::Manifest manifest,
           std::optional<absl::Duration> ttl = std::nullopt);

  // Removes the entry for `key`, if any. A GetOrFetch() fetch for `key` already
  // in flight still returns its result to the callers waiting on it but does
  // not cache it; later misses start a new fetch.
  void Invalidate(absl::string_view key);

  // Removes every entry. Fetches in flight still return their results to the
  // callers waiting on them but do not cache them; later misses start new
  // fetches.
  void ClearAll();

  // Returns the number of entries held. Expired entries are removed lazily (on
  // lookup or by LRU eviction), so this may count entries that have expired.
  size_t size() const;

  // Returns the fresh manifest cached under `key` (a hit, made the most
  // recently used), or on a miss calls `fetch` and returns its manifest or its
  // error.
  //
  // Single-flight: concurrent misses for the same key call `fetch` exactly
  // once, on the first caller's thread; the other callers block until it
  // returns and get the same manifest on success or the same error on failure.
  // Misses for different keys fetch independently and concurrently. No lock
  // is held while `fetch` runs.
  //
  // On success the manifest is cached with ttl min(FetchResult::ttl,
  // default_ttl) (see FetchResult). On failure nothing is cached and any
  // existing entry for `key` is removed. If Set(), Invalidate() or ClearAll()
  // touches `key` while the fetch is in flight, the fetch's outcome leaves the
  // cache alone (the result is still returned to the callers already waiting
  // on it, and later misses start a new fetch).
  //
  // `fetch` must not call GetOrFetch() for the same key (it would wait for
  // itself). If `fetch` throws, the waiting callers get an INTERNAL error and
  // the exception propagates to the first caller.
  absl::StatusOr<std::shared_ptr<const asap::v1::Manifest>> GetOrFetch(
      absl::string_view key,
      absl::FunctionRef<absl::StatusOr<FetchResult>()> fetch);

  // GetOrFetch() for manifests with entity tags: an expired entry that has
  // an etag is kept (until evicted), and a miss passes it to `fetch` (null
  // when there is none), which may answer FetchResult::not_modified to make
  // it fresh again. Single-flight as GetOrFetch().
  absl::StatusOr<std::shared_ptr<const asap::v1::Manifest>> GetOrRevalidate(
      absl::string_view key,
      absl::FunctionRef<absl::StatusOr<FetchResult>(const Validator*)> fetch);

  // Returns a snapshot of the counters.
  Stats stats() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const asap::v1::Manifest> manifest;
    absl::Time expires_at;  // Fresh while Now() < expires_at.
    std::string etag;       // Kept past expiry when not empty.
  };
  using EntryList = std::list<Entry>;  // Most recently used first.

  // A GetOrFetch() fetch in flight; shared by its leader and its waiters. All
  // fields are guarded by mu_.
  struct Flight {
    bool done = false;
    // Set when Set/Invalidate/ClearAll touched the key during the fetch.
    bool superseded = false;
    absl::StatusOr<std::shared_ptr<const asap::v1::Manifest>> result;
  };

  // Returns the fresh manifest for `key` and marks it most recently used, or
  // nullptr (removing an expired entry). Counts a hit or a miss.
  // An expired entry with an etag is kept, and copied to `stale` when given.
  std::shared_ptr<const asap::v1::Manifest> LookupLocked(
      absl::string_view key, Validator* stale = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `manifest` for `ttl` (removes the entry when ttl <= 0).
  void StoreLocked(absl::string_view key,
                   std::shared_ptr<const asap::v1::Manifest> manifest,
                   absl::Duration ttl, std::string etag = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(absl::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks a fetch in flight for `key`, if any, as superseded and detaches it,
  // so later misses start a new fetch.
  void SupersedeFlightLocked(absl::string_view key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes the outcome of the fetch for `key` to its waiters and, unless
  // superseded, to the cache. Returns the result handed to the callers.
  absl::StatusOr<std::shared_ptr<const asap::v1::Manifest>> CompleteFlight(
      absl::string_view key, const std::shared_ptr<Flight>& flight,
      absl::StatusOr<FetchResult> fetched, const Validator& stale)
      ABSL_LOCKS_EXCLUDED(mu_);

  const ManifestCacheOptions options_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  EntryList lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, EntryList::iterator> index_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_
      ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asap

#endif  // ASAP_CLIENT_MANIFEST_CACHE_H_
