// The manifest cache: GetManifest asks the agent once and answers from the
// client's ManifestCache (client/manifest_cache.h) while the entry is fresh.
// ClientOptions::manifest_cache sets its ttl (5 min by default; the agent's
// max-age hint can only shorten it), lets clients share one cache, or turns it
// off. The same code runs on gRPC (a client interceptor answers the call) and
// on the HTTP binding (an expired entry is revalidated with If-None-Match).
//
//   bazel run //examples/cache:client -- 127.0.0.1:50051 http://127.0.0.1:8080
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"
#include "client/manifest_cache.h"
#include "examples/common/run_on_targets.h"

namespace {

absl::StatusOr<std::unique_ptr<asap::AsapClient>> NewClient(
    const std::string& target, asap::ManifestCacheSettings cache = {}) {
  asap::ClientOptions options;
  options.target = target;
  options.manifest_cache = std::move(cache);
  return asap::AsapClient::Create(std::move(options));
}

void PrintStats(const std::string& target, const std::string& what,
                const asap::ManifestCache& cache) {
  asap::ManifestCache::Stats stats = cache.stats();
  std::cout << target << ": " << what << ": fetches " << stats.fetches
            << ", hits " << stats.hits << ", misses " << stats.misses
            << ", revalidations (not modified) " << stats.revalidations << "\n";
}

// `calls` GetManifest calls; returns the time they took.
absl::StatusOr<absl::Duration> GetManifests(asap::AsapClient& client,
                                            int calls) {
  const absl::Time start = absl::Now();
  for (int i = 0; i < calls; ++i) {
    ASAP_RETURN_IF_ERROR(client.GetManifest().status());
  }
  return absl::Trunc(absl::Now() - start, absl::Microseconds(1));
}

absl::Status ManifestCaching(const std::string& target) {
  // 1. The default cache: the first call fetches, the next ones are hits.
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        NewClient(target));
  ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest manifest, client->GetManifest());
  std::cout << target << ": manifest of " << manifest.id() << "\n";
  ASAP_ASSIGN_OR_RETURN(absl::Duration cached, GetManifests(*client, 100));
  PrintStats(target, "1 + 100 calls", *client->manifest_cache());

  // 2. One cache shared by two clients of the same target: what the first
  // fetched, the second finds.
  auto shared = std::make_shared<asap::ManifestCache>();
  asap::ManifestCacheSettings sharing;
  sharing.shared_cache = shared;
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> first,
                        NewClient(target, sharing));
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> second,
                        NewClient(target, sharing));
  ASAP_RETURN_IF_ERROR(first->GetManifest().status());
  ASAP_RETURN_IF_ERROR(second->GetManifest().status());
  PrintStats(target, "shared by two clients", *shared);

  // 3. A 200 ms ttl: a hit at once, a new fetch once it has expired. (An
  // example may sleep; tests use a FakeClock: ManifestCacheSettings::clock.)
  asap::ManifestCacheSettings short_lived;
  short_lived.ttl = absl::Milliseconds(200);
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> expiring,
                        NewClient(target, short_lived));
  ASAP_RETURN_IF_ERROR(expiring->GetManifest().status());
  ASAP_RETURN_IF_ERROR(expiring->GetManifest().status());
  PrintStats(target, "ttl 200ms, 2 calls", *expiring->manifest_cache());
  absl::SleepFor(absl::Milliseconds(250));
  ASAP_RETURN_IF_ERROR(expiring->GetManifest().status());
  PrintStats(target, "250ms later, 1 more", *expiring->manifest_cache());

  // 4. Caching off: manifest_cache() is null and every call goes to the agent.
  asap::ManifestCacheSettings off;
  off.enabled = false;
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> uncached,
                        NewClient(target, off));
  ASAP_RETURN_IF_ERROR(uncached->GetManifest().status());  // connects
  ASAP_ASSIGN_OR_RETURN(absl::Duration fetched, GetManifests(*uncached, 100));
  std::cout << target << ": 100 calls took " << absl::FormatDuration(cached)
            << " cached, " << absl::FormatDuration(fetched)
            << " with caching off (manifest_cache() "
            << (uncached->manifest_cache() == nullptr ? "is" : "is not")
            << " null)\n";
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return asap::examples::RunOnTargets(argc, argv, ManifestCaching);
}
