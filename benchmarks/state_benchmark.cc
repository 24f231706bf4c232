// Cost per call of the replay and idempotency stores, in memory and in a
// local redis-server (Unix socket) this binary starts:
//   bazel run -c opt //benchmarks:state_benchmark
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "server/nonce_store.h"
#include "server/state/idempotency_store.h"
#include "server/state/redis_stores.h"
#include "tests/testing/redis_process.h"

namespace asap {
namespace {

constexpr absl::Duration kWindow = absl::Seconds(330);

RedisStores& Redis() {
  // A static object: its destructor ends redis-server when the binary exits.
  static testing::RedisProcess process;
  static bool started = process.Start();
  if (!started) abort();
  static RedisStores* stores = [] {
    RedisOptions options;
    options.url = process.url();
    return new RedisStores(*MakeRedisStores(options, kWindow, 10 << 20));
  }();
  return *stores;
}

void RunReplay(benchmark::State& state, ReplayStore& store) {
  int64_t i = 0;
  std::string prefix = absl::StrCat(absl::ToUnixNanos(absl::Now()), "-");
  for (auto _ : state) {
    absl::Status status =
        store.CheckAndRemember(absl::StrCat(prefix, i++), absl::Now());
    if (!status.ok())
      state.SkipWithError(std::string(status.message()).c_str());
  }
}

void RunIdempotency(benchmark::State& state, IdempotencyStore& store) {
  int64_t i = 0;
  std::string prefix = absl::StrCat(absl::ToUnixNanos(absl::Now()), "-");
  std::string response(400, 'r');  // about an echo response envelope
  for (auto _ : state) {
    std::string key = absl::StrCat(prefix, i++);
    auto claim = store.TryClaim(key, absl::Seconds(30), absl::Now());
    if (!claim.ok()) {
      state.SkipWithError(std::string(claim.status().message()).c_str());
      break;
    }
    (void)store.Complete(key, claim->token, response, absl::Now());
  }
}

void BM_ReplayInMemory(benchmark::State& state) {
  static NonceStore* store =
      new NonceStore(kWindow, NonceStoreOptions{128, 100000000});
  RunReplay(state, *store);
}
BENCHMARK(BM_ReplayInMemory)->ThreadRange(1, 8)->UseRealTime();

void BM_ReplayRedis(benchmark::State& state) {
  RunReplay(state, *Redis().replay);
}
BENCHMARK(BM_ReplayRedis)->ThreadRange(1, 8)->UseRealTime();

void BM_IdempotencyInMemory(benchmark::State& state) {
  InMemoryIdempotencyOptions options;
  options.max_entries = 100000000;
  options.max_total_bytes = size_t{4} << 30;
  static InMemoryIdempotencyStore* store =
      new InMemoryIdempotencyStore(kWindow, options);
  RunIdempotency(state, *store);
}
BENCHMARK(BM_IdempotencyInMemory)->ThreadRange(1, 8)->UseRealTime();

void BM_IdempotencyRedis(benchmark::State& state) {
  RunIdempotency(state, *Redis().idempotency);
}
BENCHMARK(BM_IdempotencyRedis)->ThreadRange(1, 8)->UseRealTime();

}  // namespace
}  // namespace asap

BENCHMARK_MAIN();
