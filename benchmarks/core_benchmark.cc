// Per-envelope costs of the protocol core, to see where batch time goes.
//
//   bazel run //benchmarks:core_benchmark
#include "absl/time/clock.h"
#include "asap/envelope.h"
#include "asap/ids.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "server/dispatcher.h"
#include "tests/testing/echo_requests.h"

namespace asap::bench {
namespace {

void BM_NewUlid(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NewUlid());
}
BENCHMARK(BM_NewUlid);

void BM_FormatTimestamp(benchmark::State& state) {
  absl::Time now = absl::Now();
  for (auto _ : state) benchmark::DoNotOptimize(FormatTimestamp(now));
}
BENCHMARK(BM_FormatTimestamp);

void BM_ParseTimestamp(benchmark::State& state) {
  std::string text = FormatTimestamp(absl::Now());
  for (auto _ : state) benchmark::DoNotOptimize(ParseTimestamp(text));
}
BENCHMARK(BM_ParseTimestamp);

void BM_ValidateEnvelope(benchmark::State& state) {
  v1::Envelope envelope = TaskRequest();
  FillEnvelopeDefaults(&envelope, absl::Now());
  absl::Time now = absl::Now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ValidateEnvelope(envelope, now));
  }
}
BENCHMARK(BM_ValidateEnvelope);

void BM_EchoHandler(benchmark::State& state) {
  v1::Envelope envelope = TaskRequest();
  v1::Manifest manifest = asap::EchoManifest("x");
  for (auto _ : state) {
    benchmark::DoNotOptimize(asap::EchoTask(envelope, manifest));
  }
}
BENCHMARK(BM_EchoHandler);

void BM_Dispatch(benchmark::State& state) {
  v1::Manifest manifest = asap::EchoManifest("127.0.0.1:1");
  HandlerRegistry handlers = asap::EchoHandlers();
  EnvelopeDispatcher dispatcher(&manifest, &handlers, ValidationOptions(),
                                nullptr, [] { return absl::Now(); });
  v1::Envelope envelope = TaskRequest();
  FillEnvelopeDefaults(&envelope, absl::Now());
  for (auto _ : state) benchmark::DoNotOptimize(dispatcher.Dispatch(envelope));
}
BENCHMARK(BM_Dispatch);

void BM_SerializeEnvelope(benchmark::State& state) {
  v1::Envelope envelope = TaskRequest();
  FillEnvelopeDefaults(&envelope, absl::Now());
  for (auto _ : state) benchmark::DoNotOptimize(envelope.SerializeAsString());
}
BENCHMARK(BM_SerializeEnvelope);

void BM_ParseEnvelope(benchmark::State& state) {
  v1::Envelope envelope = TaskRequest();
  FillEnvelopeDefaults(&envelope, absl::Now());
  std::string bytes = envelope.SerializeAsString();
  v1::Envelope parsed;
  for (auto _ : state) benchmark::DoNotOptimize(parsed.ParseFromString(bytes));
}
BENCHMARK(BM_ParseEnvelope);

}  // namespace
}  // namespace asap::bench

BENCHMARK_MAIN();
