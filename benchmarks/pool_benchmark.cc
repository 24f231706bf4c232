// Connection pooling: N concurrent Send calls to a real asap server on
// loopback, with the pool (pool_maxsize 100) and, as the baseline in the same
// run, without it: a new channel per call, as a naive user writes it.
// Connections are counted at the server (distinct peer addresses).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "asap/envelope.h"
#include "asap/v1/service.grpc.pb.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/registry.h"
#include "client/asap_client.h"

namespace asap::bench {
namespace {

// Collects the outcome of N concurrent calls.
class Round {
 public:
  explicit Round(int n) : n_(n) { latencies_.reserve(n); }
  void Done(absl::Time started, bool ok) {
    absl::Duration latency = absl::Now() - started;
    absl::MutexLock lock(&mu_);
    latencies_.push_back(latency);
    if (!ok) ++failures_;
  }
  void Wait() {
    absl::MutexLock lock(&mu_);
    auto done = [this] { return static_cast<int>(latencies_.size()) == n_; };
    mu_.Await(absl::Condition(&done));
  }
  int failures() const { return failures_; }
  std::vector<absl::Duration>& latencies() { return latencies_; }

 private:
  const int n_;
  absl::Mutex mu_;
  std::vector<absl::Duration> latencies_;
  int failures_ = 0;
};

// What all rounds of one benchmark add up to.
struct Totals {
  uint64_t calls = 0;
  uint64_t failures = 0;
  std::vector<absl::Duration> latencies;
  void Add(Round& round, int n) {
    calls += n;
    failures += round.failures();
    latencies.insert(latencies.end(), round.latencies().begin(),
                     round.latencies().end());
  }
};

void Report(benchmark::State& state, uint64_t calls, uint64_t failures,
            size_t connections, std::vector<absl::Duration>& latencies) {
  state.counters["calls"] = calls;
  state.counters["failures"] = failures;
  state.counters["connections"] = connections;
  state.counters["reuse_pct"] =
      calls == 0 ? 0 : 100.0 * (1.0 - double(connections) / double(calls));
  state.counters["p50_us"] = PercentileMicros(latencies, 50);
  state.counters["p99_us"] = PercentileMicros(latencies, 99);
}

void BM_PooledConcurrentSend(benchmark::State& state) {
  const int n = state.range(0);
  EchoServer& echo = SharedEchoServer();
  Totals totals;
  // One long-lived client, as an application keeps one: its pool carries every
  // round, so connections are opened once and reused.
  echo.peers->Reset();
  ClientOptions options;  // pool defaults: 100, 100, 5 s
  options.target = echo.address();
  options.timeout = absl::Seconds(60);
  auto client = *AsapClient::Create(options);
  for (auto _ : state) {
    Round round(n);
    for (int i = 0; i < n; ++i) {
      absl::Time started = absl::Now();
      client->SendAsync(TaskRequest(), [&round, started](auto result) {
        round.Done(started, result.ok());
      });
    }
    round.Wait();
    totals.Add(round, n);
  }
  Report(state, totals.calls, totals.failures, echo.peers->distinct_peers(),
         totals.latencies);
  state.SetItemsProcessed(totals.calls);
}

// The baseline: every call makes its own channel, as code that does not keep
// a client around would.
void BM_ChannelPerCallConcurrentSend(benchmark::State& state) {
  const int n = state.range(0);
  EchoServer& echo = SharedEchoServer();
  Totals totals;
  echo.peers->Reset();
  for (auto _ : state) {
    absl::Time now = absl::Now();
    Round round(n);
    struct Call {
      std::shared_ptr<grpc::Channel> channel;
      std::unique_ptr<v1::AsapService::Stub> stub;
      grpc::ClientContext context;
      v1::Envelope request, response;
      absl::Time started;
    };
    std::vector<std::unique_ptr<Call>> inflight;
    inflight.reserve(n);
    for (int i = 0; i < n; ++i) {
      auto call = std::make_unique<Call>();
      call->started = absl::Now();
      call->channel = grpc::CreateChannel(echo.address(),
                                          grpc::InsecureChannelCredentials());
      call->stub = v1::AsapService::NewStub(call->channel);
      call->request = TaskRequest();
      FillEnvelopeDefaults(&call->request, now);
      call->context.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      Call* raw = call.get();
      raw->stub->async()->Send(&raw->context, &raw->request, &raw->response,
                               [&round, raw](grpc::Status status) {
                                 round.Done(raw->started, status.ok());
                               });
      inflight.push_back(std::move(call));
    }
    round.Wait();
    totals.Add(round, n);
  }
  Report(state, totals.calls, totals.failures, echo.peers->distinct_peers(),
         totals.latencies);
  state.SetItemsProcessed(totals.calls);
}

}  // namespace

void RegisterPoolBenchmarks(bool full) {
  std::vector<int> sizes =
      full ? std::vector<int>{20, 1000, 10000} : std::vector<int>{20};
  for (int n : sizes) {
    int iterations = n >= 10000 ? 1 : n >= 1000 ? 3 : 20;
    benchmark::RegisterBenchmark("BM_PooledConcurrentSend",
                                 BM_PooledConcurrentSend)
        ->Arg(n)
        ->Iterations(iterations)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_ChannelPerCallConcurrentSend",
                                 BM_ChannelPerCallConcurrentSend)
        ->Arg(n)
        ->Iterations(iterations)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace asap::bench
