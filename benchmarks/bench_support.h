// Shared pieces of the transport benchmarks: a real asap echo server on
// 127.0.0.1:0 (in this process, over loopback TCP), envelopes, percentiles.
#ifndef ASAP_BENCHMARKS_BENCH_SUPPORT_H_
#define ASAP_BENCHMARKS_BENCH_SUPPORT_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "asap/v1/envelope.pb.h"
#include "server/asap_server.h"
#include "tests/testing/peer_counter.h"

namespace asap::bench {

// An echo agent with a PeerCounter, started on first use and kept for the
// whole benchmark run.
struct EchoServer {
  std::shared_ptr<PeerCounter> peers;
  std::unique_ptr<AsapServer> server;
  std::string address() const { return server->address(); }
};
EchoServer& SharedEchoServer();

// A valid task.request whose input holds `text`.
v1::Envelope TaskRequest(const std::string& text = "ping");

// The p-th percentile (0-100) of `samples`, in microseconds; 0 when empty.
double PercentileMicros(std::vector<absl::Duration> samples, double p);

// True when the full (slow) run was asked for: --full on the command line or
// ASAP_BENCH_FULL=1 in the environment.
bool FullRun(int argc, char** argv);

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_BENCH_SUPPORT_H_
