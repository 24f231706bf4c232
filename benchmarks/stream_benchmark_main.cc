// Many streams at once: rounds of N concurrent echo.stream calls (4 progress
// updates, then the final envelope) against `asap serve` in its own process,
// over gRPC and over the HTTP binding (h2c). SendStreamAsync keeps all N in
// flight from the benchmark's one thread; the baseline, in the same run, is
// the blocking SendStream on N threads of its own (started per round, as
// code without the callback form has to).
//
//   bazel run -c opt //benchmarks:stream_benchmark -- \
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "benchmarks/server_process.h"
#include "client/asap_client.h"
#include "tests/testing/echo_requests.h"

namespace asap::bench {
namespace {

constexpr int kSteps = 4;

struct Targets {
  std::string grpc;
  std::string http;
};

Targets& TheTargets() {
  static Targets* targets = new Targets;
  return *targets;
}

v1::Envelope StreamRequest(int i) {
  v1::Envelope request = testing::EchoRequest("", "urn:asap:agent:bench");
  request.set_payload_type("echo.stream");
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields.clear();
  fields["text"].set_string_value(absl::StrCat("stream ", i));
  fields["steps"].set_number_value(kSteps);
  return request;
}

std::unique_ptr<AsapClient> NewClient(bool http, int n) {
  ClientOptions options;
  options.target = http ? TheTargets().http : TheTargets().grpc;
  options.timeout = absl::Seconds(60);
  options.pool.pool_maxsize = std::max(100, n);
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(options);
  return client.ok() ? *std::move(client) : nullptr;
}

// What a round's streams delivered, to check that every stream completed.
struct RoundCount {
  absl::Mutex mu;
  int updates ABSL_GUARDED_BY(mu) = 0;
  int finals ABSL_GUARDED_BY(mu) = 0;
  int failures ABSL_GUARDED_BY(mu) = 0;
  void Update() {
    absl::MutexLock lock(&mu);
    ++updates;
  }
  void Final(bool ok) {
    absl::MutexLock lock(&mu);
    ++(ok ? finals : failures);
  }
};

void Check(benchmark::State& state, RoundCount& count, int64_t streams) {
  absl::MutexLock lock(&count.mu);
  state.counters["failures"] = count.failures;
  if (count.failures != 0 || count.finals != streams ||
      count.updates != streams * kSteps) {
    state.SkipWithError("not every stream completed with its updates");
  }
  state.SetItemsProcessed(streams);
}

void BM_StreamAsyncOneThread(benchmark::State& state, bool http) {
  const int n = static_cast<int>(state.range(0));
  std::unique_ptr<AsapClient> client = NewClient(http, n);
  if (client == nullptr) return state.SkipWithError("no client");
  RoundCount count;
  int64_t streams = 0;
  for (auto _ : state) {
    absl::BlockingCounter pending(n);
    for (int i = 0; i < n; ++i) {
      client->SendStreamAsync(
          StreamRequest(i), [&count](const v1::Envelope&) { count.Update(); },
          [&count, &pending](absl::StatusOr<v1::Envelope> final) {
            count.Final(final.ok());
            pending.DecrementCount();
          });
    }
    pending.Wait();
    streams += n;
  }
  Check(state, count, streams);
}

void BM_StreamBlockingThreads(benchmark::State& state, bool http) {
  const int n = static_cast<int>(state.range(0));
  std::unique_ptr<AsapClient> client = NewClient(http, n);
  if (client == nullptr) return state.SkipWithError("no client");
  RoundCount count;
  int64_t streams = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        absl::StatusOr<v1::Envelope> final = client->SendStream(
            StreamRequest(i),
            [&count](const v1::Envelope&) { count.Update(); });
        count.Final(final.ok());
      });
    }
    for (std::thread& thread : threads) thread.join();
    streams += n;
  }
  Check(state, count, streams);
}

void Register() {
  for (bool http : {false, true}) {
    const char* binding = http ? "http" : "grpc";
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_StreamAsyncOneThread/", binding).c_str(),
        BM_StreamAsyncOneThread, http)
        ->Arg(64)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_StreamBlockingThreads/", binding).c_str(),
        BM_StreamBlockingThreads, http)
        ->Arg(64)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) {
  using asap::bench::ServerProcess;
  asap::bench::InstallChildCleanup();
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(asap::bench::FindRunfile(argv[0], "tools/cli/asap"),
                           {"serve", "--port", "0", "--http-port", "0"});
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start the server: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::string> http =
      (*server)->WaitForLine("http listening on ");
  if (!http.ok()) {
    std::fprintf(stderr, "no HTTP listener: %s\n",
                 http.status().ToString().c_str());
    return 1;
  }
  asap::bench::TheTargets().grpc = (*server)->address();
  asap::bench::TheTargets().http = "http://" + *http;
  std::printf("asap serve: gRPC on %s, HTTP on %s\n",
              (*server)->address().c_str(), http->c_str());
  asap::bench::Register();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
