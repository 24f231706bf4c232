// Load on the out-of-process servers of //benchmarks:server_benchmark:
// - BM_ServerUnary: asap.v1.AsapService/Send on the echo agent vs the raw
//   callback echo server, at 1 and at 64 calls in flight. Both are called by
//   the same plain generated stub (callback API) with the same envelope, so
//   the client's cost is identical and only the server differs. Windows
//   alternate between the servers, so drift on the (shared) machine hits both.
// - BM_SequentialVsBatch: 100 sequential AsapClient::Send calls vs one
//   AsapClient::SendBatch of 100, against the echo agent.
#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "asap/envelope.h"
#include "asap/v1/service.grpc.pb.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/server_benchmark.h"
#include "client/asap_client.h"

namespace asap::bench {
namespace {

// Goals for the asap server against the raw one.
constexpr double kThroughputRatioGoal = 0.8;  // at 64 in flight, at least
constexpr double kP50RatioGoal = 1.15;        // at 1 in flight, at most
constexpr double kBatchSpeedupGoal = 30;

struct SharedServers {
  std::unique_ptr<ServerProcess> asap;
  std::unique_ptr<ServerProcess> raw;
};

SharedServers& Shared() {
  static auto* servers = new SharedServers;
  return *servers;
}

// The shared child server in `slot`, started on first use; null (and the
// benchmark skipped with the reason) when it cannot start or has died.
ServerProcess* SharedServer(
    benchmark::State& state, std::unique_ptr<ServerProcess>* slot,
    absl::StatusOr<std::unique_ptr<ServerProcess>> (*start)()) {
  std::string how;
  if (*slot != nullptr && !(*slot)->Running(&how)) {
    state.SkipWithError(
        absl::StrCat("server process ended earlier: ", how).c_str());
    return nullptr;
  }
  if (*slot == nullptr) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> started = start();
    if (!started.ok()) {
      state.SkipWithError(started.status().ToString().c_str());
      return nullptr;
    }
    *slot = *std::move(started);
  }
  return slot->get();
}

struct LoadStats {
  int64_t ok = 0;
  int64_t failed = 0;
  absl::Duration elapsed;
  std::vector<absl::Duration> latencies;
  std::map<grpc::StatusCode, int64_t> failure_codes;

  void Add(const LoadStats& other) {
    ok += other.ok;
    failed += other.failed;
    elapsed += other.elapsed;
    latencies.insert(latencies.end(), other.latencies.begin(),
                     other.latencies.end());
    for (const auto& [code, n] : other.failure_codes) failure_codes[code] += n;
  }
  double PerSecond() const {
    double seconds = absl::ToDoubleSeconds(elapsed);
    return seconds > 0 ? ok / seconds : 0;
  }
};

// Keeps `in_flight` Send calls running on `stub` for `window`: each call that
// completes starts the next one from its callback. A slot whose call fails
// stops, so a dead server ends the window early instead of spinning.
LoadStats RunUnaryLoad(v1::AsapService::Stub* stub,
                       const v1::Envelope& prototype, int in_flight,
                       absl::Duration window) {
  struct Call {
    grpc::ClientContext context;
    v1::Envelope request;
    v1::Envelope response;
    absl::Time start;
  };
  absl::Mutex mu;
  LoadStats stats;
  // The last thing each slot's final callback does; Wait() returning means no
  // callback touches this frame any more.
  absl::BlockingCounter slots_done(in_flight);
  absl::Time start = absl::Now();
  absl::Time stop_at = start + window;

  std::function<void()> start_call = [&] {
    auto* call = new Call;
    call->request = prototype;
    call->start = absl::Now();
    FillEnvelopeDefaults(&call->request, call->start);
    call->context.set_deadline(absl::ToChronoTime(call->start + kCallDeadline));
    stub->async()->Send(&call->context, &call->request, &call->response,
                        [&, call](grpc::Status status) {
                          absl::Time end = absl::Now();
                          {
                            absl::MutexLock lock(&mu);
                            if (status.ok()) {
                              ++stats.ok;
                              stats.latencies.push_back(end - call->start);
                            } else {
                              ++stats.failed;
                              ++stats.failure_codes[status.error_code()];
                            }
                          }
                          delete call;
                          if (status.ok() && end < stop_at) {
                            start_call();
                          } else {
                            slots_done.DecrementCount();
                          }
                        });
  };
  for (int i = 0; i < in_flight; ++i) start_call();
  slots_done.Wait();
  stats.elapsed = absl::Now() - start;
  return stats;
}

std::string CodesText(const std::map<grpc::StatusCode, int64_t>& codes) {
  std::string text;
  for (const auto& [code, n] : codes) {
    absl::StrAppend(&text, text.empty() ? "" : " ", "code", code, "=", n);
  }
  return text;
}

void BM_ServerUnary(benchmark::State& state) {
  const int in_flight = state.range(0);
  const absl::Duration window = absl::Milliseconds(state.range(1));
  ServerProcess* asap_server =
      SharedServer(state, &Shared().asap, StartAsapServer);
  if (asap_server == nullptr) return;
  ServerProcess* raw_server =
      SharedServer(state, &Shared().raw, StartRawServer);
  if (raw_server == nullptr) return;
  auto asap_stub = v1::AsapService::NewStub(NewChannel(asap_server->address()));
  auto raw_stub = v1::AsapService::NewStub(NewChannel(raw_server->address()));
  const v1::Envelope prototype = TaskRequest("hello, agent");

  // Connect, and let both servers warm up their threads and allocators.
  RunUnaryLoad(asap_stub.get(), prototype, in_flight, absl::Milliseconds(200));
  RunUnaryLoad(raw_stub.get(), prototype, in_flight, absl::Milliseconds(200));

  LoadStats asap, raw;
  bool asap_first = true;
  for (auto _ : state) {
    for (int i = 0; i < 2; ++i) {
      if ((i == 0) == asap_first) {
        asap.Add(RunUnaryLoad(asap_stub.get(), prototype, in_flight, window));
      } else {
        raw.Add(RunUnaryLoad(raw_stub.get(), prototype, in_flight, window));
      }
    }
    asap_first = !asap_first;
  }

  double asap_p50 = PercentileMicros(asap.latencies, 50);
  double asap_p99 = PercentileMicros(asap.latencies, 99);
  double raw_p50 = PercentileMicros(raw.latencies, 50);
  double raw_p99 = PercentileMicros(raw.latencies, 99);
  state.counters["asap_calls_per_s"] = asap.PerSecond();
  state.counters["raw_calls_per_s"] = raw.PerSecond();
  state.counters["asap_p50_us"] = asap_p50;
  state.counters["asap_p99_us"] = asap_p99;
  state.counters["raw_p50_us"] = raw_p50;
  state.counters["raw_p99_us"] = raw_p99;
  state.counters["failures"] = asap.failed + raw.failed;
  double throughput_ratio =
      raw.PerSecond() > 0 ? asap.PerSecond() / raw.PerSecond() : 0;
  double p50_ratio = raw_p50 > 0 ? asap_p50 / raw_p50 : 0;
  SummaryRow row;
  row.name = absl::StrCat("Send, ", in_flight, " in flight");
  row.asap =
      absl::StrCat(FormatRate(asap.PerSecond()), " p50 ",
                   FormatMicros(asap_p50), " p99 ", FormatMicros(asap_p99));
  row.baseline =
      absl::StrCat("raw ", FormatRate(raw.PerSecond()), " p50 ",
                   FormatMicros(raw_p50), " p99 ", FormatMicros(raw_p99));
  if (in_flight == 1) {
    state.counters["p50_ratio"] = p50_ratio;
    row.result = absl::StrFormat("p50_ratio %.2f", p50_ratio);
    row.goal = absl::StrFormat("<= %.2f: %s", kP50RatioGoal,
                               Verdict(p50_ratio <= kP50RatioGoal));
  } else {
    state.counters["throughput_ratio"] = throughput_ratio;
    row.result = absl::StrFormat("throughput_ratio %.2f", throughput_ratio);
    row.goal =
        absl::StrFormat(">= %.1f: %s", kThroughputRatioGoal,
                        Verdict(throughput_ratio >= kThroughputRatioGoal));
  }
  if (asap.failed + raw.failed > 0) {
    absl::StrAppend(&row.goal, " (failures: asap ",
                    CodesText(asap.failure_codes), ", raw ",
                    CodesText(raw.failure_codes), ")");
  }
  AddSummaryRow(std::move(row));
}

// Sends `envelopes` as one SendBatch; returns its duration, counts failed
// envelopes in `*failures`.
absl::Duration TimedBatch(AsapClient* client,
                          std::vector<v1::Envelope> envelopes,
                          int64_t* failures) {
  int64_t n = envelopes.size();
  absl::Time start = absl::Now();
  auto results = client->SendBatch(std::move(envelopes));
  absl::Duration took = absl::Now() - start;
  if (!results.ok()) {
    *failures += n;
  } else {
    for (const auto& r : *results) *failures += !r.ok();
  }
  return took;
}

void BM_SequentialVsBatch(benchmark::State& state) {
  const int n = state.range(0);
  // Default compression (frames compressed at level 1 once the server has
  // advertised it), or none: what compression costs on loopback.
  const bool compress = state.range(1) != 0;
  ServerProcess* server = SharedServer(state, &Shared().asap, StartAsapServer);
  if (server == nullptr) return;
  ClientOptions options;
  options.target = server->address();
  options.timeout = kCallDeadline;
  if (!compress) options.compression.algorithm = Compression::kNone;
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(options);
  if (!client.ok()) {
    state.SkipWithError(client.status().ToString().c_str());
    return;
  }
  (void)(*client)->Send(TaskRequest());  // connect
  absl::Duration sequential, batch;
  int64_t rounds = 0, failures = 0;
  std::vector<absl::Duration> batch_latencies;
  for (auto _ : state) {
    std::vector<v1::Envelope> envelopes = FreshEnvelopes(n);
    absl::Time t0 = absl::Now();
    for (v1::Envelope& e : envelopes) {
      if (!(*client)->Send(std::move(e)).ok()) ++failures;
    }
    sequential += absl::Now() - t0;
    batch_latencies.push_back(
        TimedBatch(client->get(), FreshEnvelopes(n), &failures));
    batch += batch_latencies.back();
    ++rounds;
  }
  double sequential_eps = n * rounds / absl::ToDoubleSeconds(sequential);
  double batch_eps = n * rounds / absl::ToDoubleSeconds(batch);
  double speedup = batch_eps / sequential_eps;
  state.counters["sequential_eps"] = sequential_eps;
  state.counters["batch_eps"] = batch_eps;
  state.counters["speedup"] = speedup;
  state.counters["failures"] = failures;
  AddSummaryRow(
      {absl::StrCat("SendBatch(", n, ") vs ", n, " Send",
                    compress ? "" : ", no compression"),
       absl::StrCat("batch ", FormatRate(batch_eps), " envelopes, p50 ",
                    FormatMicros(PercentileMicros(batch_latencies, 50))),
       absl::StrCat("sequential ", FormatRate(sequential_eps)),
       absl::StrFormat("%.1fx", speedup),
       failures > 0 ? absl::StrFormat("invalid: %d envelopes failed", failures)
                    : absl::StrFormat(">= %.0fx: %s", kBatchSpeedupGoal,
                                      Verdict(speedup >= kBatchSpeedupGoal))});
}

}  // namespace

void RegisterLoadBenchmarks(bool full) {
  // Args: calls in flight, window per server per round (ms).
  const int window_ms = full ? 2000 : 1000;
  benchmark::RegisterBenchmark("BM_ServerUnary", BM_ServerUnary)
      ->ArgNames({"in_flight", "window_ms"})
      ->Args({1, window_ms})
      ->Args({64, window_ms})
      ->Iterations(full ? 10 : 6)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_SequentialVsBatch", BM_SequentialVsBatch)
      ->ArgNames({"envelopes", "compress"})
      ->Args({100, 1})
      ->Args({100, 0})
      ->Iterations(full ? 50 : 20)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

void StopSharedServers() {
  Shared().asap.reset();
  Shared().raw.reset();
}

}  // namespace asap::bench
