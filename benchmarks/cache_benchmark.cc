// Manifest caching: hit rate over 100 GetManifest calls to one agent, cached
// vs network latency side by side, and 16 threads missing the same cold key at
// once.
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/registry.h"
#include "client/asap_client.h"

namespace asap::bench {
namespace {

std::unique_ptr<AsapClient> NewClient(bool cache) {
  ClientOptions options;
  options.target = SharedEchoServer().address();
  options.manifest_cache.enabled = cache;
  return *AsapClient::Create(options);
}

// The measurement: a new client (cold cache) makes 100 GetManifest calls to
// one agent.
void BM_ManifestCacheHitRate(benchmark::State& state) {
  uint64_t hits = 0, misses = 0, failures = 0;
  for (auto _ : state) {
    auto client = NewClient(/*cache=*/true);
    for (int i = 0; i < 100; ++i) {
      if (!client->GetManifest().ok()) ++failures;
    }
    ManifestCache::Stats stats = client->manifest_cache()->stats();
    hits += stats.hits;
    misses += stats.misses;
  }
  state.counters["hits"] = hits;
  state.counters["misses"] = misses;
  state.counters["failures"] = failures;
  state.counters["hit_rate_pct"] = 100.0 * hits / double(hits + misses);
}

// Cached lookups and network fetches in the same run, interleaved in rounds so
// both see the same machine load.
void BM_ManifestCachedVsNetwork(benchmark::State& state) {
  auto cached = NewClient(true);
  auto uncached = NewClient(false);
  // Warm both: the cache entry, and the connection of the uncached client.
  (void)cached->GetManifest();
  (void)uncached->GetManifest();
  absl::Duration cached_total, network_total;
  int64_t rounds = 0;
  for (auto _ : state) {
    absl::Time t0 = absl::Now();
    for (int i = 0; i < 100; ++i)
      benchmark::DoNotOptimize(cached->GetManifest());
    absl::Time t1 = absl::Now();
    for (int i = 0; i < 100; ++i) {
      benchmark::DoNotOptimize(uncached->GetManifest());
    }
    absl::Time t2 = absl::Now();
    cached_total += t1 - t0;
    network_total += t2 - t1;
    ++rounds;
  }
  double cached_us = absl::ToDoubleMicroseconds(cached_total) / (rounds * 100);
  double network_us =
      absl::ToDoubleMicroseconds(network_total) / (rounds * 100);
  state.counters["cached_us"] = cached_us;
  state.counters["network_us"] = network_us;
  state.counters["speedup"] = network_us / cached_us;
}

// 16 threads ask for the same cold key at once: exactly one network fetch.
void BM_ManifestColdKeyConcurrentMisses(benchmark::State& state) {
  EchoServer& echo = SharedEchoServer();
  uint64_t fetches = 0, server_calls = 0, rounds = 0;
  for (auto _ : state) {
    auto client = NewClient(true);
    echo.peers->Reset();
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&client] { (void)client->GetManifest(); });
    }
    for (auto& t : threads) t.join();
    fetches += client->manifest_cache()->stats().fetches;
    server_calls += echo.peers->calls();
    ++rounds;
  }
  state.counters["fetches_per_round"] = double(fetches) / rounds;
  state.counters["server_calls_per_round"] = double(server_calls) / rounds;
}

}  // namespace

void RegisterCacheBenchmarks(bool full) {
  benchmark::RegisterBenchmark("BM_ManifestCacheHitRate",
                               BM_ManifestCacheHitRate)
      ->Iterations(full ? 50 : 5)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_ManifestCachedVsNetwork",
                               BM_ManifestCachedVsNetwork)
      ->Iterations(full ? 50 : 5)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_ManifestColdKeyConcurrentMisses",
                               BM_ManifestColdKeyConcurrentMisses)
      ->Iterations(full ? 50 : 5)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace asap::bench
