// Shared pieces of //benchmarks:server_benchmark: the server programs it runs
// as child processes, client channels, and the summary table printed at the
// end of the run.
#ifndef ASAP_BENCHMARKS_SERVER_BENCHMARK_H_
#define ASAP_BENCHMARKS_SERVER_BENCHMARK_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asap/v1/envelope.pb.h"
#include "benchmarks/server_process.h"

namespace asap::bench {

// Deadline of every call the benchmark makes, so that a stuck server costs
// bounded time.
inline constexpr absl::Duration kCallDeadline = absl::Seconds(20);

// Paths of the two server programs (set by main).
struct ServerBinaries {
  std::string asap;  // //benchmarks:asap_echo_server
  std::string raw;   // //benchmarks:raw_echo_server
};
ServerBinaries& Binaries();

// A new child process of the asap echo agent / raw callback echo server on
// 127.0.0.1, port 0.
absl::StatusOr<std::unique_ptr<ServerProcess>> StartAsapServer();
absl::StatusOr<std::unique_ptr<ServerProcess>> StartRawServer();

// A channel to `address` on a TCP connection of its own (no subchannel
// sharing with other channels), accepting messages up to 64 MB.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

// `n` valid task.requests for the echo agent (examples' EchoRequest), with id
// and timestamp filled in.
std::vector<v1::Envelope> FreshEnvelopes(int n);

// "12.3k/s", "950/s".
std::string FormatRate(double per_second);
// "250 us", "12.3 ms", "1.50 s".
std::string FormatMicros(double micros);
// "met" or "NOT met".
std::string Verdict(bool met);

// One line of the summary table printed after all benchmarks ran.
struct SummaryRow {
  std::string name;
  std::string asap;
  std::string baseline;
  std::string result;  // ratio, or error codes
  std::string goal;
};
void AddSummaryRow(SummaryRow row);
void PrintSummary();

void RegisterLoadBenchmarks(bool full);
void RegisterAttackBenchmarks(bool full);
// Stops the servers shared by the load benchmarks.
void StopSharedServers();

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_SERVER_BENCHMARK_H_
