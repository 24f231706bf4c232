// The asap server measured in its own process, as deployed: the benchmark
// starts the echo agent (//benchmarks:asap_echo_server) and a plain gRPC
// callback server with the same echo logic (//benchmarks:raw_echo_server) as
// child processes on 127.0.0.1 and loads them over loopback TCP.
//
//   bazel run //benchmarks:server_benchmark              # ~1-2 minutes
//   bazel run //benchmarks:server_benchmark -- --full    # more rounds
//
// Any Google Benchmark flag works too, e.g. --benchmark_filter=Attack.
// --asap_server=PATH and --raw_server=PATH run other server programs (they
// must print "listening on HOST:PORT"). A summary table ends the output.
#include <grpc/grpc.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "asap/envelope.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/server_benchmark.h"
#include "benchmarks/server_process.h"

namespace asap::bench {

ServerBinaries& Binaries() {
  static ServerBinaries* binaries = new ServerBinaries;
  return *binaries;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartAsapServer() {
  return ServerProcess::Start(Binaries().asap, {"0"});
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartRawServer() {
  return ServerProcess::Start(Binaries().raw, {"0"});
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  args.SetMaxSendMessageSize(64 * 1024 * 1024);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

std::vector<v1::Envelope> FreshEnvelopes(int n) {
  std::vector<v1::Envelope> envelopes;
  envelopes.reserve(n);
  absl::Time now = absl::Now();
  for (int i = 0; i < n; ++i) {
    envelopes.push_back(TaskRequest("envelope number " + std::to_string(i)));
    FillEnvelopeDefaults(&envelopes.back(), now);
  }
  return envelopes;
}

std::string FormatRate(double per_second) {
  if (per_second >= 1000) return absl::StrFormat("%.1fk/s", per_second / 1000);
  return absl::StrFormat("%.0f/s", per_second);
}

std::string FormatMicros(double micros) {
  if (micros >= 1e6) return absl::StrFormat("%.2f s", micros / 1e6);
  if (micros >= 1e4) return absl::StrFormat("%.1f ms", micros / 1e3);
  if (micros >= 1e3) return absl::StrFormat("%.2f ms", micros / 1e3);
  return absl::StrFormat("%.0f us", micros);
}

std::string Verdict(bool met) { return met ? "met" : "NOT met"; }

namespace {

absl::Mutex g_summary_mu;
std::vector<SummaryRow>& SummaryRows() {
  static auto* rows = new std::vector<SummaryRow>;
  return *rows;
}

}  // namespace

void AddSummaryRow(SummaryRow row) {
  absl::MutexLock lock(&g_summary_mu);
  SummaryRows().push_back(std::move(row));
}

void PrintSummary() {
  absl::MutexLock lock(&g_summary_mu);
  if (SummaryRows().empty()) return;
  std::vector<SummaryRow> rows = SummaryRows();
  rows.insert(rows.begin(), {"case", "asap", "baseline", "result", "goal"});
  size_t width[5] = {0, 0, 0, 0, 0};
  for (const SummaryRow& row : rows) {
    const std::string* cells[5] = {&row.name, &row.asap, &row.baseline,
                                   &row.result, &row.goal};
    for (int i = 0; i < 5; ++i) width[i] = std::max(width[i], cells[i]->size());
  }
  std::printf(
      "\nSummary: asap server in its own process (children on 127.0.0.1)\n");
  for (const SummaryRow& row : rows) {
    std::printf(
        "  %-*s | %-*s | %-*s | %-*s | %s\n", static_cast<int>(width[0]),
        row.name.c_str(), static_cast<int>(width[1]), row.asap.c_str(),
        static_cast<int>(width[2]), row.baseline.c_str(),
        static_cast<int>(width[3]), row.result.c_str(), row.goal.c_str());
  }
  std::fflush(stdout);
}

}  // namespace asap::bench

int main(int argc, char** argv) {
  using asap::bench::Binaries;
  asap::bench::InstallChildCleanup();
  // Keeps gRPC initialized for the whole run. Otherwise the last gRPC object
  // of a case shuts gRPC down, and that waits (~10 s) for the sends of calls
  // a server refused before reading their 10 MB. Never shut down: exit needs
  // no clean-up, and it would wait the same way.
  grpc_init();
  bool full = asap::bench::FullRun(argc, argv);
  Binaries().asap =
      asap::bench::FindRunfile(argv[0], "benchmarks/asap_echo_server");
  Binaries().raw =
      asap::bench::FindRunfile(argv[0], "benchmarks/raw_echo_server");
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--full") continue;
    if (absl::ConsumePrefix(&arg, "--asap_server=")) {
      Binaries().asap = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--raw_server=")) {
      Binaries().raw = std::string(arg);
    } else {
      args.push_back(argv[i]);
    }
  }
  int count = static_cast<int>(args.size());
  asap::bench::RegisterLoadBenchmarks(full);
  asap::bench::RegisterAttackBenchmarks(full);
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  asap::bench::StopSharedServers();
  asap::bench::PrintSummary();
  return 0;
}
