// The transport benchmarks (connection pooling, manifest caching, batches,
// compression), against a real asap server on loopback with the baseline in
// the same run.
//
//   bazel run //benchmarks:transport_benchmark              # quick sizes
//   bazel run //benchmarks:transport_benchmark -- --full    # 1000 and 10000
//
// Any Google Benchmark flag works too, e.g. --benchmark_filter=Pooled.
#include <cstring>
#include <vector>

#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/registry.h"

int main(int argc, char** argv) {
  bool full = asap::bench::FullRun(argc, argv);
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--full") != 0) args.push_back(argv[i]);
  }
  int count = static_cast<int>(args.size());
  asap::bench::RegisterPoolBenchmarks(full);
  asap::bench::RegisterCacheBenchmarks(full);
  asap::bench::RegisterBatchBenchmarks(full);
  asap::bench::RegisterCompressionBenchmarks(full);
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
