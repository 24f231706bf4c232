#include "client/manifest_cache.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace asap {

using ManifestPtr = std::shared_ptr<const asap::v1::Manifest>;

ManifestCache::ManifestCache(ManifestCacheOptions options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : &RealClock()) {}

ManifestPtr ManifestCache::Get(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  return LookupLocked(key);
}

void ManifestCache::Set(absl::string_view key, asap::v1::Manifest manifest,
                        std::optional<absl::Duration> ttl) {
  // Allocate outside the lock.
  auto shared = std::make_shared<const asap::v1::Manifest>(std::move(manifest));
  absl::MutexLock lock(&mu_);
  SupersedeFlightLocked(key);
  StoreLocked(key, std::move(shared), ttl.value_or(options_.default_ttl));
}

void ManifestCache::Invalidate(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  SupersedeFlightLocked(key);
  EraseLocked(key);
}

void ManifestCache::ClearAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [key, flight] : flights_) flight->superseded = true;
  flights_.clear();
  index_.clear();
  lru_.clear();
}

size_t ManifestCache::size() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

ManifestCache::Stats ManifestCache::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::StatusOr<ManifestPtr> ManifestCache::GetOrFetch(
    absl::string_view key,
    absl::FunctionRef<absl::StatusOr<FetchResult>()> fetch) {
  return GetOrRevalidate(key, [&](const Validator*) { return fetch(); });
}

absl::StatusOr<ManifestPtr> ManifestCache::GetOrRevalidate(
    absl::string_view key,
    absl::FunctionRef<absl::StatusOr<FetchResult>(const Validator*)> fetch) {
  std::shared_ptr<Flight> flight;
  Validator stale;
  {
    absl::MutexLock lock(&mu_);
    if (ManifestPtr hit = LookupLocked(key, &stale)) return hit;
    auto it = flights_.find(key);
    if (it != flights_.end()) {
      // Another caller is fetching this key: wait for its outcome. Await
      // releases mu_ while blocked; `flight` keeps the state alive.
      flight = it->second;
      mu_.Await(absl::Condition(&flight->done));
      return flight->result;
    }
    flight = std::make_shared<Flight>();
    flights_.emplace(std::string(key), flight);
    ++stats_.fetches;
  }

  // This caller leads the fetch, without holding mu_. If `fetch` throws, the
  // cleanup still completes the flight so the waiters do not block forever.
  auto complete_on_throw = absl::MakeCleanup([&] {
    (void)CompleteFlight(
        key, flight, absl::InternalError("manifest fetch exited by exception"),
        stale);
  });
  absl::StatusOr<FetchResult> fetched =
      fetch(stale.manifest != nullptr ? &stale : nullptr);
  std::move(complete_on_throw).Cancel();
  return CompleteFlight(key, flight, std::move(fetched), stale);
}

absl::StatusOr<ManifestPtr> ManifestCache::CompleteFlight(
    absl::string_view key, const std::shared_ptr<Flight>& flight,
    absl::StatusOr<FetchResult> fetched, const Validator& stale) {
  absl::StatusOr<ManifestPtr> result;
  absl::Duration ttl = options_.default_ttl;
  std::string etag;
  bool revalidated = false;
  if (fetched.ok() && fetched->not_modified) {
    if (stale.manifest != nullptr) {
      result = stale.manifest;
      etag = stale.etag;
      revalidated = true;
    } else {
      result = absl::InternalError(
          "manifest fetch answered not-modified without a cached entry");
    }
  } else if (fetched.ok()) {
    // Allocate outside the lock.
    result = std::make_shared<const asap::v1::Manifest>(
        std::move(fetched->manifest));
    etag = std::move(fetched->etag);
  } else {
    result = std::move(fetched).status();
  }
  if (result.ok() && fetched->ttl.has_value()) {
    ttl = std::min(ttl, *fetched->ttl);
  }
  if (result.ok() && !fetched->etag.empty()) etag = fetched->etag;

  absl::MutexLock lock(&mu_);
  if (revalidated) ++stats_.revalidations;
  if (!flight->superseded) {
    if (result.ok()) {
      StoreLocked(key, *result, ttl, std::move(etag));
    } else {
      EraseLocked(key);
    }
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }
  flight->result = result;
  flight->done = true;  // Wakes the waiters (they Await this under mu_).
  return result;
}

ManifestPtr ManifestCache::LookupLocked(absl::string_view key,
                                        Validator* stale) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  EntryList::iterator entry = it->second;
  if (clock_->Now() >= entry->expires_at) {
    if (!entry->etag.empty()) {
      // Kept for revalidation; still a miss.
      if (stale != nullptr) *stale = Validator{entry->manifest, entry->etag};
      ++stats_.misses;
      return nullptr;
    }
    index_.erase(it);
    lru_.erase(entry);
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, entry);
  ++stats_.hits;
  return entry->manifest;
}

void ManifestCache::StoreLocked(absl::string_view key, ManifestPtr manifest,
                                absl::Duration ttl, std::string etag) {
  if (ttl <= absl::ZeroDuration()) {
    if (etag.empty()) {
      EraseLocked(key);
      return;
    }
    // Stale at once, but kept for revalidation.
    ttl = absl::ZeroDuration();
  }
  // Saturates at absl::InfiniteFuture() for very long ttls.
  const absl::Time expires_at = clock_->Now() + ttl;
  auto it = index_.find(key);
  if (it != index_.end()) {
    EntryList::iterator entry = it->second;
    entry->manifest = std::move(manifest);
    entry->expires_at = expires_at;
    entry->etag = std::move(etag);
    lru_.splice(lru_.begin(), lru_, entry);
    return;
  }
  lru_.push_front(Entry{std::string(key), std::move(manifest), expires_at,
                        std::move(etag)});
  index_.emplace(lru_.front().key, lru_.begin());
  // max_size >= 1 here, so the entry just added (at the front) is never the
  // one evicted.
  if (options_.max_size != 0 && lru_.size() > options_.max_size) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void ManifestCache::EraseLocked(absl::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

void ManifestCache::SupersedeFlightLocked(absl::string_view key) {
  auto it = flights_.find(key);
  if (it == flights_.end()) return;
  it->second->superseded = true;
  flights_.erase(it);
}

}  // namespace asap
