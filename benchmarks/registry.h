// The benchmark groups of //benchmarks:transport_benchmark. Each registers its
// Google Benchmark cases; `full` selects the large (slow) sizes.
#ifndef ASAP_BENCHMARKS_REGISTRY_H_
#define ASAP_BENCHMARKS_REGISTRY_H_

namespace asap::bench {

void RegisterPoolBenchmarks(bool full);
void RegisterCacheBenchmarks(bool full);
void RegisterBatchBenchmarks(bool full);
void RegisterCompressionBenchmarks(bool full);

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_REGISTRY_H_
