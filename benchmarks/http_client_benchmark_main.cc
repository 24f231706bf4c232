// AsapClient over ASAP's HTTP binding, against the asap server in its own
// process (`asap serve --port 0 --http-port 0`, //tools/cli:asap, on
// 127.0.0.1), with each baseline measured in the same run:
//
//   1. batch: SendBatch(100) over one HTTP/2 (h2c) connection, as v2 batch
//      arrays (2 x 50) and as 100 multiplexed single requests, against 100
//      sequential Send calls (POST /asap over one HTTP/1.1 keep-alive
//      connection, as the reference client sends them). The gRPC SendBatch
//      of the same 100 envelopes is shown for comparison. Rounds alternate
//      the cases; medians are reported.
//   2. pool: rounds of 1000 concurrent SendAsync over HTTP/1.1 with
//      pool_maxsize 100, connections counted at the server
//      (asap_http_connections_accepted_total); reuse = requests that found a
//      connection open.
//   3. compression: one Send of the 1 MB JSON payload (benchmarks/
//      agent_data.h) through a byte-counting TCP relay, over HTTP and over
//      gRPC, brotli (the default) and uncompressed: bytes on the wire each
//      way (TCP payload: HTTP heads, bodies and, for h2 and gRPC, every
//      frame).
//
//   bazel run -c opt //benchmarks:http_client_benchmark
//   bazel run -c opt //benchmarks:http_client_benchmark -- --rounds=50
//
// Flags: --rounds=30 (batch rounds), --rtt_ms=0,2 (the batch case at each
// round-trip time: 0 is loopback as it is, others go through a relay that
// holds every byte rtt/2 each way, for all cases alike), --array_items=50,
// --pool_rounds=20, --cases=batch,pool,compression (a subset runs only
// those), --asap=PATH (another server program taking
// `serve --port 0 --http-port 0`).
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "asap/envelope.h"
#include "benchmarks/agent_data.h"
#include "benchmarks/relay/byte_counting_relay.h"
#include "benchmarks/server_process.h"
#include "client/asap_client.h"
#include "tests/testing/echo_requests.h"

namespace asap::bench {
namespace {

// The goals this benchmark checks against.
constexpr double kBatchTarget = 10;  // SendBatch vs sequential sends
constexpr double kBatchGoal = 30;
constexpr double kReuseGoal = 0.99;

struct Flags {
  int rounds = 30;
  // Round-trip times to run the batch case at (0: loopback as it is; else
  // through a relay that holds every byte rtt/2 each way).
  std::vector<int> rtt_ms = {0, 2};
  int array_items = 50;
  // The batch case's compression algorithm, for every client.
  Compression compression = Compression::kBrotli;
  int pool_rounds = 20;
  std::string cases = "batch,pool,compression";
  std::string asap;
};

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--rounds=")) {
      (void)absl::SimpleAtoi(arg, &flags.rounds);
    } else if (absl::ConsumePrefix(&arg, "--rtt_ms=")) {
      flags.rtt_ms.clear();
      for (absl::string_view part : absl::StrSplit(arg, ',')) {
        int rtt = 0;
        if (absl::SimpleAtoi(part, &rtt) && rtt >= 0) {
          flags.rtt_ms.push_back(rtt);
        }
      }
    } else if (absl::ConsumePrefix(&arg, "--compression=")) {
      absl::StatusOr<Compression> compression = ParseCompression(arg);
      if (!compression.ok()) {
        std::fprintf(stderr, "--compression: %s\n",
                     std::string(compression.status().message()).c_str());
        std::exit(2);
      }
      flags.compression = *compression;
    } else if (absl::ConsumePrefix(&arg, "--array_items=")) {
      (void)absl::SimpleAtoi(arg, &flags.array_items);
    } else if (absl::ConsumePrefix(&arg, "--pool_rounds=")) {
      (void)absl::SimpleAtoi(arg, &flags.pool_rounds);
    } else if (absl::ConsumePrefix(&arg, "--cases=")) {
      flags.cases = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--asap=")) {
      flags.asap = std::string(arg);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  flags.rounds = std::max(flags.rounds, 1);
  flags.pool_rounds = std::max(flags.pool_rounds, 1);
  return flags;
}

std::unique_ptr<AsapClient> MakeClient(ClientOptions options) {
  options.timeout = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(std::move(options));
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(client);
}

double Median(std::vector<absl::Duration> samples) {
  std::sort(samples.begin(), samples.end());
  return absl::ToDoubleMicroseconds(samples[samples.size() / 2]);
}

// --- 1. batch ---------------------------------------------------------------

std::vector<v1::Envelope> Batch(int n) {
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < n; ++i) {
    batch.push_back(asap::testing::EchoRequest(absl::StrCat("envelope ", i)));
  }
  return batch;
}

// A relay holding bytes rtt/2 each way to 127.0.0.1:`port`, or none for 0.
std::string Through(int rtt_ms, const std::string& address,
                    std::vector<std::unique_ptr<ByteCountingRelay>>* relays) {
  if (rtt_ms == 0) return address;
  int port = 0;
  const std::vector<std::string> parts = absl::StrSplit(address, ':');
  (void)absl::SimpleAtoi(parts.back(), &port);
  absl::StatusOr<std::unique_ptr<ByteCountingRelay>> relay =
      ByteCountingRelay::Start("127.0.0.1", port,
                               std::chrono::microseconds(rtt_ms * 500));
  if (!relay.ok()) {
    std::fprintf(stderr, "relay: %s\n", relay.status().ToString().c_str());
    std::exit(1);
  }
  relays->push_back(*std::move(relay));
  return relays->back()->address();
}

void RunBatch(const Flags& flags, int rtt_ms, const std::string& server_grpc,
              const std::string& server_http) {
  constexpr int kEnvelopes = 100;
  std::vector<std::unique_ptr<ByteCountingRelay>> relays;
  const std::string grpc_address = Through(rtt_ms, server_grpc, &relays);
  const std::string http_url =
      absl::StrCat("http://", Through(rtt_ms, server_http, &relays));
  ClientOptions sequential_options;
  sequential_options.target = http_url;
  sequential_options.compression.algorithm = flags.compression;
  sequential_options.http.protocol = HttpProtocol::kHttp1;
  sequential_options.http.negotiate_v2 = false;
  ClientOptions arrays_options;
  arrays_options.target = http_url;
  arrays_options.compression.algorithm = flags.compression;
  arrays_options.http.protocol = HttpProtocol::kHttp2;
  arrays_options.http.batch_array_items = flags.array_items;
  ClientOptions multiplexed_options = arrays_options;
  multiplexed_options.http.negotiate_v2 = false;
  ClientOptions grpc_options;
  grpc_options.target = grpc_address;
  grpc_options.compression.algorithm = flags.compression;

  struct Case {
    const char* name;
    std::unique_ptr<AsapClient> client;
    bool sequential;
    std::vector<absl::Duration> times;
    int failures = 0;
  };
  Case cases[] = {
      {"100 sequential Send, HTTP/1.1", MakeClient(sequential_options), true},
      {"SendBatch(100), h2c, v2 arrays", MakeClient(arrays_options), false},
      {"SendBatch(100), h2c, multiplexed", MakeClient(multiplexed_options),
       false},
      {"SendBatch(100), gRPC", MakeClient(grpc_options), false},
  };
  auto run_once = [&](Case& c) {
    std::vector<v1::Envelope> batch = Batch(kEnvelopes);
    const absl::Time start = absl::Now();
    if (c.sequential) {
      for (v1::Envelope& envelope : batch) {
        c.failures += !c.client->Send(std::move(envelope)).ok();
      }
    } else {
      absl::StatusOr<AsapClient::BatchResults> results =
          c.client->SendBatch(std::move(batch));
      if (!results.ok()) {
        c.failures += kEnvelopes;
      } else {
        for (const auto& result : *results) {
          if (!result.ok() && c.failures++ == 0) {
            std::fprintf(stderr, "%s: %s\n", c.name,
                         result.status().ToString().c_str());
          }
        }
      }
    }
    return absl::Now() - start;
  };
  for (int warm = 0; warm < 5; ++warm) {
    for (Case& c : cases) (void)run_once(c);
  }
  for (Case& c : cases) c.failures = 0;
  for (int round = 0; round < flags.rounds; ++round) {
    for (Case& c : cases) c.times.push_back(run_once(c));
  }
  std::printf(
      "\n## batch: %d envelopes, %d rounds (median per round), "
      "round trip %s\n\n",
      kEnvelopes, flags.rounds,
      rtt_ms == 0 ? "loopback" : absl::StrCat(rtt_ms, " ms (relay)").c_str());
  std::printf(
      "| case | median ms | envelopes/s | failures |\n|---|---|---|---|\n");
  for (Case& c : cases) {
    const double median_us = Median(c.times);
    std::printf("| %s | %.2f | %.0f | %d |\n", c.name, median_us / 1000,
                kEnvelopes / (median_us / 1e6), c.failures);
  }
  const double sequential = Median(cases[0].times);
  for (int i = 1; i <= 2; ++i) {
    const double ratio = sequential / Median(cases[i].times);
    std::printf(
        "\n%s vs 100 sequential POSTs: %.1fx (target %.0fx: %s; goal "
        "%.0fx: %s)\n",
        cases[i].name, ratio, kBatchTarget,
        ratio >= kBatchTarget ? "met" : "NOT met", kBatchGoal,
        ratio >= kBatchGoal ? "met" : "NOT met");
  }
}

// --- 2. pool
// ------------------------------------------------------------------

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// The server's asap_http_connections_accepted_total, read over one
// keep-alive connection of its own (opened by the first read).
class ConnectionCounter {
 public:
  explicit ConnectionCounter(std::string url)
      : url_(absl::StrCat(url, "/asap/metrics")), easy_(curl_easy_init()) {}
  ~ConnectionCounter() { curl_easy_cleanup(easy_); }
  int64_t Read() {
    std::string body;
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &body);
    if (curl_easy_perform(easy_) != CURLE_OK) return -1;
    for (absl::string_view line : absl::StrSplit(body, '\n')) {
      if (absl::ConsumePrefix(&line, "asap_http_connections_accepted_total ")) {
        int64_t value = 0;
        if (absl::SimpleAtoi(line, &value)) return value;
      }
    }
    return -1;
  }

 private:
  std::string url_;
  CURL* easy_;
};

void RunPool(const Flags& flags, const std::string& http_url) {
  constexpr int kConcurrent = 1000;
  ClientOptions options;
  options.target = http_url;
  options.http.protocol = HttpProtocol::kHttp1;
  options.pool.pool_maxsize = 100;
  options.pool.pool_connections = 100;
  options.pool.pool_timeout = absl::Seconds(30);
  std::unique_ptr<AsapClient> client = MakeClient(options);
  ConnectionCounter counter(http_url);
  int64_t before = counter.Read();
  std::printf(
      "\n## pool: %d rounds of %d concurrent SendAsync, HTTP/1.1, "
      "pool_maxsize 100\n\n",
      flags.pool_rounds, kConcurrent);
  std::printf(
      "| round | new connections (server) | failures | ms |\n"
      "|---|---|---|---|\n");
  int64_t new_connections = 0;
  int failures_total = 0;
  for (int round = 1; round <= flags.pool_rounds; ++round) {
    absl::BlockingCounter done(kConcurrent);
    std::atomic<int> failures{0};
    const absl::Time start = absl::Now();
    for (int i = 0; i < kConcurrent; ++i) {
      client->SendAsync(asap::testing::EchoRequest("pool"),
                        [&](absl::StatusOr<v1::Envelope> response) {
                          if (!response.ok()) ++failures;
                          done.DecrementCount();
                        });
    }
    done.Wait();
    const absl::Duration took = absl::Now() - start;
    const int64_t after = counter.Read();
    std::printf("| %d | %lld | %d | %.1f |\n", round,
                static_cast<long long>(after - before), failures.load(),
                absl::ToDoubleMilliseconds(took));
    new_connections += after - before;
    failures_total += failures.load();
    before = after;
  }
  const double requests = static_cast<double>(flags.pool_rounds) * kConcurrent;
  const double reuse = 1 - new_connections / requests;
  std::printf(
      "\nreuse: %.2f%% of %.0f requests (%lld connections opened; "
      "client counted %llu); failures %d (goal > %.0f%% and none: "
      "%s)\n",
      100 * reuse, requests, static_cast<long long>(new_connections),
      static_cast<unsigned long long>(client->pool_stats().connections_opened),
      failures_total, 100 * kReuseGoal,
      reuse > kReuseGoal && failures_total == 0 ? "met" : "NOT met");
}

// --- 3. compression
// -------------------------------------------------------------

void RunCompression(const std::string& grpc_port,
                    const std::string& http_port) {
  v1::Envelope request = asap::testing::EchoRequest("");
  *(*request.mutable_payload()->mutable_fields())["input"]
       .mutable_struct_value() = AgentData(1 << 20);
  std::printf(
      "\n## compression: one Send of the 1 MB JSON payload, bytes on "
      "the wire (TCP payload through a relay), mean of 5\n\n");
  std::printf(
      "| binding | encoding | client to server | server to client "
      "|\n|---|---|---|---|\n");
  struct Setting {
    const char* binding;
    const char* algorithm;
  };
  for (Setting setting :
       {Setting{"HTTP/1.1", "br"}, Setting{"HTTP/1.1", "gzip"},
        Setting{"HTTP/1.1", "none"}, Setting{"h2c", "br"},
        Setting{"gRPC", "br"}, Setting{"gRPC", "gzip"},
        Setting{"gRPC", "none"}}) {
    const bool grpc = absl::string_view(setting.binding) == "gRPC";
    int port = 0;
    (void)absl::SimpleAtoi(grpc ? grpc_port : http_port, &port);
    absl::StatusOr<std::unique_ptr<ByteCountingRelay>> relay =
        ByteCountingRelay::Start("127.0.0.1", port);
    if (!relay.ok()) {
      std::fprintf(stderr, "relay: %s\n", relay.status().ToString().c_str());
      std::exit(1);
    }
    ClientOptions options;
    options.target = grpc ? (*relay)->address()
                          : absl::StrCat("http://", (*relay)->address());
    options.compression.algorithm = *ParseCompression(setting.algorithm);
    options.http.protocol = absl::string_view(setting.binding) == "h2c"
                                ? HttpProtocol::kHttp2
                                : HttpProtocol::kHttp1;
    std::unique_ptr<AsapClient> client = MakeClient(options);
    // Connection set-up and the server's encoding advertisement first.
    for (int i = 0; i < 2; ++i) (void)client->Send(request);
    constexpr int kCalls = 5;
    uint64_t up = 0;
    uint64_t down = 0;
    int failures = 0;
    for (int i = 0; i < kCalls; ++i) {
      (*relay)->Reset();
      failures += !client->Send(request).ok();
      up += (*relay)->client_to_server_bytes();
      down += (*relay)->server_to_client_bytes();
    }
    std::printf(
        "| %s | %s | %llu | %llu |%s\n", setting.binding, setting.algorithm,
        static_cast<unsigned long long>(up / kCalls),
        static_cast<unsigned long long>(down / kCalls),
        failures > 0 ? absl::StrCat(" ", failures, " failed").c_str() : "");
  }
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  InstallChildCleanup();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string program =
      flags.asap.empty() ? FindRunfile(argv[0], "tools/cli/asap") : flags.asap;
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(
      program, {"serve", "--port", "0", "--http-port", "0"});
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::string> http_address =
      (*server)->WaitForLine("http listening on ");
  if (!http_address.ok()) {
    std::fprintf(stderr, "server: %s\n",
                 http_address.status().ToString().c_str());
    return 1;
  }
  const std::string grpc_address = (*server)->address();
  const std::string http_url = absl::StrCat("http://", *http_address);
  std::printf(
      "# asap client over HTTP; server %s (gRPC %s, HTTP %s), "
      "%d cores\n",
      program.c_str(), grpc_address.c_str(), http_address->c_str(),
      static_cast<int>(std::thread::hardware_concurrency()));
  if (absl::StrContains(flags.cases, "batch")) {
    for (int rtt_ms : flags.rtt_ms) {
      RunBatch(flags, rtt_ms, grpc_address, *http_address);
    }
  }
  if (absl::StrContains(flags.cases, "pool")) RunPool(flags, http_url);
  if (absl::StrContains(flags.cases, "compression")) {
    const std::vector<std::string> grpc_parts =
        absl::StrSplit(grpc_address, ':');
    const std::vector<std::string> http_parts =
        absl::StrSplit(*http_address, ':');
    RunCompression(grpc_parts.back(), http_parts.back());
  }
  return 0;
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) { return asap::bench::Main(argc, argv); }
