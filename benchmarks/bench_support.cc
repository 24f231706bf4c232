#include "benchmarks/bench_support.h"

#include <algorithm>
#include <cstring>
#include <iostream>

#include "tests/testing/echo_requests.h"

namespace asap::bench {

EchoServer& SharedEchoServer() {
  static EchoServer* shared = [] {
    auto* echo = new EchoServer;
    echo->peers = std::make_shared<PeerCounter>();
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.manifest = asap::EchoManifest("");
    options.interceptors.push_back(echo->peers->MakeInterceptorFactory());
    auto server = AsapServer::Start(std::move(options), asap::EchoHandlers());
    if (!server.ok()) {
      std::cerr << "cannot start the echo server: " << server.status() << "\n";
      std::exit(1);
    }
    echo->server = *std::move(server);
    return echo;
  }();
  return *shared;
}

v1::Envelope TaskRequest(const std::string& text) {
  return asap::testing::EchoRequest(text, "urn:asap:agent:bench");
}

double PercentileMicros(std::vector<absl::Duration> samples, double p) {
  if (samples.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * (samples.size() - 1) + 0.5);
  std::nth_element(samples.begin(), samples.begin() + index, samples.end());
  return absl::ToDoubleMicroseconds(samples[index]);
}

bool FullRun(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--full") == 0) return true;
  }
  const char* env = std::getenv("ASAP_BENCH_FULL");
  return env != nullptr && std::strcmp(env, "1") == 0;
}

}  // namespace asap::bench
