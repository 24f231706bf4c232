// TLS against plaintext on the gRPC binding, both servers in their own
// processes (`asap serve`, one with --tls-cert/--tls-key), measured in the
// same run on 127.0.0.1:
//
//   1. pooled: one client, `in_flight` SendAsync calls kept in flight for
//      `duration_s`: calls/s; then sequential Send calls: p50 and p99.
//   2. a new connection per call: a new AsapClient (its own channel, so a
//      new TCP connection and, with TLS, a new handshake) for each of
//      `fresh_calls` sequential calls, against the pooled client's
//      sequential calls.
//
// Certificates come from tests/testing/make_test_certs.sh (openssl), made in
// a temporary directory at start-up.
//
//   bazel run -c opt //benchmarks:tls_benchmark
//   bazel run -c opt //benchmarks:tls_benchmark -- --duration_s=5
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmarks/server_process.h"
#include "client/asap_client.h"
#include "examples/echo_agent/echo_agent.h"

namespace asap::bench {
namespace {

struct Flags {
  double duration_s = 3;
  int in_flight = 32;
  int sequential_calls = 2000;
  int fresh_calls = 300;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    if (absl::ConsumePrefix(&arg, "--duration_s=")) {
      ok = absl::SimpleAtod(arg, &flags.duration_s);
    } else if (absl::ConsumePrefix(&arg, "--in_flight=")) {
      ok = absl::SimpleAtoi(arg, &flags.in_flight);
    } else if (absl::ConsumePrefix(&arg, "--sequential_calls=")) {
      ok = absl::SimpleAtoi(arg, &flags.sequential_calls);
    } else if (absl::ConsumePrefix(&arg, "--fresh_calls=")) {
      ok = absl::SimpleAtoi(arg, &flags.fresh_calls);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bad flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  return flags;
}

double Percentile(std::vector<absl::Duration> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t index = std::min(samples.size() - 1,
                                static_cast<size_t>(p / 100 * samples.size()));
  return absl::ToDoubleMicroseconds(samples[index]);
}

ClientOptions OptionsFor(const std::string& address, const std::string& ca) {
  ClientOptions options;
  options.target = address;
  options.timeout = absl::Seconds(30);
  if (!ca.empty()) {
    options.tls.enabled = true;
    options.tls.ca_file = ca;
  }
  return options;
}

std::unique_ptr<AsapClient> Client(const ClientOptions& options) {
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(client);
}

// Calls/s with `in_flight` SendAsync calls kept in flight.
double Throughput(AsapClient& client, const Flags& flags, int* failures) {
  absl::Mutex mu;
  int outstanding = 0;
  std::atomic<int64_t> done{0};
  std::atomic<int> failed{0};
  const absl::Time end = absl::Now() + absl::Seconds(flags.duration_s);
  std::function<void()> start_one;
  start_one = [&] {
    {
      absl::MutexLock lock(&mu);
      ++outstanding;
    }
    client.SendAsync(examples::EchoRequest("tls"),
                     [&](absl::StatusOr<v1::Envelope> response) {
                       if (!response.ok()) ++failed;
                       ++done;
                       bool again = absl::Now() < end;
                       {
                         absl::MutexLock lock(&mu);
                         --outstanding;
                       }
                       if (again) start_one();
                     });
  };
  const absl::Time start = absl::Now();
  for (int i = 0; i < flags.in_flight; ++i) start_one();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &outstanding));
  }
  *failures = failed.load();
  return done.load() / absl::ToDoubleSeconds(absl::Now() - start);
}

std::vector<absl::Duration> Sequential(AsapClient& client, int calls,
                                       int* failures) {
  std::vector<absl::Duration> samples;
  for (int i = 0; i < calls; ++i) {
    const absl::Time start = absl::Now();
    *failures += !client.Send(examples::EchoRequest("tls")).ok();
    samples.push_back(absl::Now() - start);
  }
  return samples;
}

std::vector<absl::Duration> FreshConnections(const ClientOptions& options,
                                             int calls, int* failures) {
  std::vector<absl::Duration> samples;
  for (int i = 0; i < calls; ++i) {
    const absl::Time start = absl::Now();
    std::unique_ptr<AsapClient> client = Client(options);
    *failures += !client->Send(examples::EchoRequest("tls")).ok();
    samples.push_back(absl::Now() - start);
  }
  return samples;
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  InstallChildCleanup();
  char dir_template[] = "/tmp/asap_tls_benchmark_XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return 1;
  const std::string certs = dir;
  const std::string make = absl::StrCat(
      "/bin/bash ", FindRunfile(argv[0], "tests/testing/make_test_certs.sh"),
      " ", certs);
  if (std::system(make.c_str()) != 0) {
    std::fprintf(stderr, "%s failed\n", make.c_str());
    return 1;
  }
  const std::string asap = FindRunfile(argv[0], "tools/cli/asap");
  auto plain = ServerProcess::Start(asap, {"serve", "--port", "0"});
  auto tls = ServerProcess::Start(
      asap, {"serve", "--port", "0", "--tls-cert", certs + "/server.pem",
             "--tls-key", certs + "/server.key"});
  if (!plain.ok() || !tls.ok()) {
    std::fprintf(stderr, "server: %s %s\n", plain.status().ToString().c_str(),
                 tls.status().ToString().c_str());
    return 1;
  }
  const ClientOptions plain_options = OptionsFor((*plain)->address(), "");
  const ClientOptions tls_options =
      OptionsFor((*tls)->address(), certs + "/ca.pem");

  std::printf(
      "# TLS against plaintext, gRPC, servers in their own "
      "processes on 127.0.0.1; P-256 certificates\n\n");
  std::printf(
      "## pooled client: %d calls in flight for %.0f s, then %d "
      "sequential calls\n\n",
      flags.in_flight, flags.duration_s, flags.sequential_calls);
  std::printf(
      "| | calls/s | sequential p50 us | p99 us | failures |\n"
      "|---|---|---|---|---|\n");
  struct Side {
    const char* name;
    const ClientOptions* options;
  };
  double pooled_p50[2] = {0, 0};
  int index = 0;
  for (Side side :
       {Side{"plaintext", &plain_options}, Side{"TLS", &tls_options}}) {
    std::unique_ptr<AsapClient> client = Client(*side.options);
    int failures = 0;
    (void)Sequential(*client, 50, &failures);  // connect and warm up
    failures = 0;
    const double rate = Throughput(*client, flags, &failures);
    std::vector<absl::Duration> samples =
        Sequential(*client, flags.sequential_calls, &failures);
    pooled_p50[index++] = Percentile(samples, 50);
    std::printf("| %s | %.0f | %.0f | %.0f | %d |\n", side.name, rate,
                Percentile(samples, 50), Percentile(samples, 99), failures);
  }

  std::printf(
      "\n## a new connection per call: %d sequential calls, each on "
      "a new client\n\n",
      flags.fresh_calls);
  std::printf(
      "| | new connection p50 us | p99 us | pooled p50 us | "
      "ratio | failures |\n|---|---|---|---|---|---|\n");
  index = 0;
  for (Side side :
       {Side{"plaintext", &plain_options}, Side{"TLS", &tls_options}}) {
    int failures = 0;
    std::vector<absl::Duration> samples =
        FreshConnections(*side.options, flags.fresh_calls, &failures);
    const double p50 = Percentile(samples, 50);
    std::printf("| %s | %.0f | %.0f | %.0f | %.1fx | %d |\n", side.name, p50,
                Percentile(samples, 99), pooled_p50[index],
                p50 / std::max(1.0, pooled_p50[index]), failures);
    ++index;
  }
  std::system(absl::StrCat("rm -rf ", certs).c_str());
  return 0;
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) { return asap::bench::Main(argc, argv); }
