// TLS against plaintext on the gRPC and HTTP bindings, and the cost of
// authentication per call, every server in its own process (`asap serve`),
// measured in the same run on 127.0.0.1:
//
//   1. gRPC, plaintext against TLS (--tls-cert/--tls-key): pooled, one
//      client with `in_flight` SendAsync calls kept in flight for
//      `duration_s` (calls/s), then sequential Send calls (p50, p99); and a
//      new connection per call: a new AsapClient (its own channel, so a new
//      TCP connection and, with TLS, a new handshake) for each of
//      `fresh_calls` sequential calls.
//   2. The HTTP binding, the same rows: http:// (h2c, the client's automatic
//      choice) against https:// (HTTP/2 chosen by ALPN). A new client per
//      call is measured for h2c asked for directly (one request per
//      connection, as https://), for the automatic choice (whose first call
//      asks the server with a GET /health first) and for https://.
//   3. Authentication, gRPC over plaintext (to isolate it from TLS), pooled
//      throughput and sequential latency: no auth, a token sent to a server
//      without authentication (the client's cost alone), a static token
//      (--auth-tokens), HS256, ES256 and RS256 JWTs (--jwt-key). The server
//      caches verified JWTs until their exp, so "cached" rows send one token
//      every call and "uncached" rows a different pre-minted token each call
//      (asap::TokenFunction), so that every call is verified in full. The
//      uncached rows make `uncached_calls` sequential calls, and their
//      throughput stops early when the tokens minted in at most
//      `mint_budget_s` run out (the table gives the calls and the window).
//
// Certificates come from tests/testing/make_test_certs.sh (openssl), JWT keys
// from tests/testing/jwt_minter.h, made in a temporary directory at start-up.
//
//   bazel run -c opt //benchmarks:tls_benchmark
//   bazel run -c opt //benchmarks:tls_benchmark -- --duration_s=5
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asap/auth/jwt_validator.h"
#include "benchmarks/server_process.h"
#include "client/asap_client.h"
#include "client/token_provider.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/jwt_minter.h"

namespace asap::bench {
namespace {

using Algorithm = JwtOptions::Algorithm;

// The agent every authenticated row calls as (the envelopes' sender).
constexpr char kAgent[] = "urn:asap:agent:bench-client";
constexpr char kStaticToken[] = "bench-static-token-5f2c9a7e41d3b860";
// Sequential calls that open a client's connection before it is measured.
constexpr int kWarmUpCalls = 50;

struct Flags {
  double duration_s = 3;
  int in_flight = 32;
  int sequential_calls = 2000;
  int fresh_calls = 300;
  int uncached_calls = 500;
  double mint_budget_s = 3;
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
    } else if (absl::ConsumePrefix(&arg, "--uncached_calls=")) {
      ok = absl::SimpleAtoi(arg, &flags.uncached_calls);
    } else if (absl::ConsumePrefix(&arg, "--mint_budget_s=")) {
      ok = absl::SimpleAtod(arg, &flags.mint_budget_s);
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

// gRPC: "host:port", TLS with `ca`'s roots when `ca` is set. HTTP:
// "http://host:port" or "https://host:port" (then `ca` is required).
ClientOptions OptionsFor(const std::string& target, const std::string& ca) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(30);
  if (!ca.empty()) {
    options.tls.enabled = !absl::StartsWith(target, "https://");
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

std::unique_ptr<ServerProcess> Serve(const std::string& asap,
                                     std::vector<std::string> args) {
  args.insert(args.begin(), {"serve", "--port", "0"});
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(asap, args);
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(server);
}

// The HTTP binding's host:port of a server started with --http-port.
std::string HttpAddress(ServerProcess& server) {
  absl::StatusOr<std::string> address =
      server.WaitForLine("http listening on ");
  if (!address.ok()) {
    std::fprintf(stderr, "server: %s\n", address.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(address);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.good()) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

struct Throughput {
  double rate = 0;      // calls/s
  int64_t calls = 0;    // calls finished
  double window_s = 0;  // from the first call to the last answer
};

// `in_flight` SendAsync calls kept in flight for `duration_s`, starting at
// most `max_calls` calls.
Throughput MeasureThroughput(AsapClient& client, const Flags& flags,
                             const std::string& sender, int64_t max_calls,
                             int* failures) {
  absl::Mutex mu;
  int outstanding = 0;
  std::atomic<int64_t> started{0};
  std::atomic<int64_t> done{0};
  std::atomic<int> failed{0};
  const v1::Envelope request = asap::testing::EchoRequest("tls", sender);
  const absl::Time end = absl::Now() + absl::Seconds(flags.duration_s);
  // Claims the right to start one more call.
  auto claim = [&] { return started.fetch_add(1) < max_calls; };
  std::function<void()> start_one;
  start_one = [&] {
    {
      absl::MutexLock lock(&mu);
      ++outstanding;
    }
    client.SendAsync(request, [&](absl::StatusOr<v1::Envelope> response) {
      if (!response.ok()) ++failed;
      ++done;
      const bool again = absl::Now() < end && claim();
      if (again) start_one();
      absl::MutexLock lock(&mu);
      --outstanding;
    });
  };
  const absl::Time start = absl::Now();
  for (int i = 0; i < flags.in_flight && claim(); ++i) start_one();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &outstanding));
  }
  Throughput result;
  result.window_s = absl::ToDoubleSeconds(absl::Now() - start);
  result.calls = done.load();
  result.rate = result.calls / result.window_s;
  *failures += failed.load();
  return result;
}

std::vector<absl::Duration> Sequential(AsapClient& client, int calls,
                                       const std::string& sender,
                                       int* failures) {
  const v1::Envelope request = asap::testing::EchoRequest("tls", sender);
  std::vector<absl::Duration> samples;
  samples.reserve(calls);
  for (int i = 0; i < calls; ++i) {
    const absl::Time start = absl::Now();
    *failures += !client.Send(request).ok();
    samples.push_back(absl::Now() - start);
  }
  return samples;
}

std::vector<absl::Duration> FreshConnections(const ClientOptions& options,
                                             int calls, int* failures) {
  const v1::Envelope request = asap::testing::EchoRequest("tls");
  std::vector<absl::Duration> samples;
  samples.reserve(calls);
  for (int i = 0; i < calls; ++i) {
    const absl::Time start = absl::Now();
    std::unique_ptr<AsapClient> client = Client(options);
    *failures += !client->Send(request).ok();
    samples.push_back(absl::Now() - start);
  }
  return samples;
}

struct Pooled {
  Throughput throughput;
  int sequential_calls = 0;
  double p50 = 0;
  double p99 = 0;
  int failures = 0;
  std::string protocol;  // HTTP targets: what the client spoke
};

// Warm-up, throughput, then sequential calls on one client.
Pooled MeasurePooled(const ClientOptions& options, const Flags& flags,
                     const std::string& sender, int sequential_calls,
                     int64_t max_calls = INT64_MAX) {
  std::unique_ptr<AsapClient> client = Client(options);
  Pooled result;
  int warm_up_failures = 0;
  (void)Sequential(*client, kWarmUpCalls, sender, &warm_up_failures);
  result.failures = warm_up_failures;
  result.throughput =
      MeasureThroughput(*client, flags, sender, max_calls, &result.failures);
  std::vector<absl::Duration> samples =
      Sequential(*client, sequential_calls, sender, &result.failures);
  result.sequential_calls = sequential_calls;
  result.p50 = Percentile(samples, 50);
  result.p99 = Percentile(samples, 99);
  result.protocol = client->http_stats().protocol;
  return result;
}

// ---------------------------------------------------------------------------
// Transport rows: plaintext against TLS.

struct Side {
  const char* name;
  ClientOptions options;
};

void TransportTables(const char* binding, const std::vector<Side>& pooled,
                     const std::vector<Side>& fresh, const Flags& flags) {
  const bool http = absl::StrContains(binding, "HTTP");
  std::printf(
      "\n## %s, pooled client: %d calls in flight for %.0f s, then %d "
      "sequential calls\n\n",
      binding, flags.in_flight, flags.duration_s, flags.sequential_calls);
  std::printf("| | %scalls/s | sequential p50 us | p99 us | failures |\n",
              http ? "protocol | " : "");
  std::printf("|---|%s---|---|---|---|\n", http ? "---|" : "");
  std::vector<double> pooled_p50;
  for (const Side& side : pooled) {
    Pooled result =
        MeasurePooled(side.options, flags, kAgent, flags.sequential_calls);
    pooled_p50.push_back(result.p50);
    std::printf("| %s | %s%s%.0f | %.0f | %.0f | %d |\n", side.name,
                result.protocol.c_str(), http ? " | " : "",
                result.throughput.rate, result.p50, result.p99,
                result.failures);
    std::fflush(stdout);
  }

  std::printf(
      "\n## %s, a new connection per call: %d sequential calls, each on "
      "a new client\n\n",
      binding, flags.fresh_calls);
  std::printf(
      "| | new connection p50 us | p99 us | pooled p50 us | "
      "ratio | failures |\n|---|---|---|---|---|---|\n");
  for (const Side& side : fresh) {
    // The pooled p50 of the same scheme (the TLS one for a TLS side).
    const bool tls = side.options.tls.enabled ||
                     absl::StartsWith(side.options.target, "https://");
    const double base = pooled_p50[tls ? 1 : 0];
    int failures = 0;
    std::vector<absl::Duration> samples =
        FreshConnections(side.options, flags.fresh_calls, &failures);
    const double p50 = Percentile(samples, 50);
    std::printf("| %s | %.0f | %.0f | %.0f | %.1fx | %d |\n", side.name, p50,
                Percentile(samples, 99), base, p50 / std::max(1.0, base),
                failures);
    std::fflush(stdout);
  }
}

// ---------------------------------------------------------------------------
// Authentication rows.

// Pre-minted tokens handed out one per call; an error once they run out.
struct TokenQueue {
  std::vector<std::string> tokens;
  std::atomic<size_t> next{0};
};

// Distinct tokens (each its own exp) for `kAgent`: at most `max_tokens`,
// minted on two threads for at most `budget`.
std::vector<std::string> MintTokens(Algorithm algorithm,
                                    const testing::TestKeys& keys,
                                    int64_t max_tokens, absl::Duration budget) {
  const absl::Time stop = absl::Now() + budget;
  const int64_t exp = absl::ToUnixSeconds(absl::Now()) + 3600;
  constexpr int kThreads = 2;
  std::vector<std::vector<std::string>> minted(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      testing::JwtClaims claims;
      claims.sub = kAgent;
      for (int64_t i = t; i < max_tokens; i += kThreads) {
        if ((i / kThreads) % 64 == 0 && absl::Now() > stop) break;
        claims.exp = exp + i;  // every token differs
        absl::StatusOr<std::string> token =
            testing::MintJwt(algorithm, keys.SigningKey(algorithm), claims);
        if (!token.ok()) {
          std::fprintf(stderr, "MintJwt: %s\n",
                       token.status().ToString().c_str());
          std::exit(1);
        }
        minted[t].push_back(*std::move(token));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<std::string> tokens;
  for (std::vector<std::string>& part : minted) {
    for (std::string& token : part) tokens.push_back(std::move(token));
  }
  return tokens;
}

std::string Mint(Algorithm algorithm, const testing::TestKeys& keys) {
  std::vector<std::string> one =
      MintTokens(algorithm, keys, 1, absl::InfiniteDuration());
  return one.front();
}

struct AuthRow {
  std::string name;
  std::string target;
  // Null: no token. Set: the provider and, for uncached rows, its queue.
  std::shared_ptr<TokenProvider> provider;
  std::shared_ptr<TokenQueue> queue;
};

void AuthTable(const std::vector<AuthRow>& rows, const Flags& flags) {
  std::printf(
      "\n## authentication, gRPC over plaintext: %d calls in flight for up "
      "to %.0f s, then sequential calls (%d; %d for uncached rows)\n\n",
      flags.in_flight, flags.duration_s, flags.sequential_calls,
      flags.uncached_calls);
  std::printf(
      "| | calls/s | calls | window s | sequential p50 us | p99 us | "
      "p50 - no auth us | failures |\n"
      "|---|---|---|---|---|---|---|---|\n");
  double no_auth_p50 = 0;
  for (const AuthRow& row : rows) {
    ClientOptions options = OptionsFor(row.target, "");
    // The manifest cache would ask the provider for a token at Create.
    options.manifest_cache.enabled = false;
    options.token_provider = row.provider;
    int sequential = flags.sequential_calls;
    int64_t max_calls = INT64_MAX;
    if (row.queue != nullptr) {
      sequential = flags.uncached_calls;
      max_calls = static_cast<int64_t>(row.queue->tokens.size()) -
                  kWarmUpCalls - sequential;
    }
    Pooled result =
        MeasurePooled(options, flags, kAgent, sequential, max_calls);
    if (row.provider == nullptr) no_auth_p50 = result.p50;
    if (row.queue != nullptr) {
      const int64_t calls = kWarmUpCalls + result.throughput.calls + sequential;
      const size_t used = row.queue->next.load();
      if (used != static_cast<size_t>(calls)) {
        std::fprintf(stderr, "%s: %zu tokens for %lld calls\n",
                     row.name.c_str(), used, static_cast<long long>(calls));
      }
    }
    std::printf("| %s | %.0f | %lld | %.1f | %.0f | %.0f | %+.0f | %d |\n",
                row.name.c_str(), result.throughput.rate,
                static_cast<long long>(result.throughput.calls),
                result.throughput.window_s, result.p50, result.p99,
                result.p50 - no_auth_p50, result.failures);
    std::fflush(stdout);
  }
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
  absl::StatusOr<testing::TestKeys> keys = testing::GenerateTestKeys();
  if (!keys.ok()) {
    std::fprintf(stderr, "keys: %s\n", keys.status().ToString().c_str());
    return 1;
  }
  WriteFile(certs + "/tokens.txt",
            absl::StrCat(kStaticToken, " ", kAgent, "\n"));
  WriteFile(certs + "/hs256.key", keys->hs256_secret);
  WriteFile(certs + "/es256.pem", keys->ec_public_pem);
  WriteFile(certs + "/rs256.pem", keys->rsa_public_pem);

  const std::string asap = FindRunfile(argv[0], "tools/cli/asap");
  const std::vector<std::string> tls_flags = {
      "--tls-cert", certs + "/server.pem", "--tls-key", certs + "/server.key"};
  std::unique_ptr<ServerProcess> plain = Serve(asap, {});
  std::unique_ptr<ServerProcess> tls = Serve(asap, tls_flags);
  std::unique_ptr<ServerProcess> http = Serve(asap, {"--http-port", "0"});
  std::vector<std::string> https_flags = tls_flags;
  https_flags.insert(https_flags.begin(), {"--http-port", "0"});
  std::unique_ptr<ServerProcess> https = Serve(asap, https_flags);
  std::unique_ptr<ServerProcess> static_auth =
      Serve(asap, {"--auth-tokens", certs + "/tokens.txt"});
  std::unique_ptr<ServerProcess> hs256 =
      Serve(asap, {"--jwt-key", certs + "/hs256.key"});
  std::unique_ptr<ServerProcess> es256 =
      Serve(asap, {"--jwt-key", certs + "/es256.pem"});
  std::unique_ptr<ServerProcess> rs256 =
      Serve(asap, {"--jwt-key", certs + "/rs256.pem"});
  const std::string http_url = absl::StrCat("http://", HttpAddress(*http));
  const std::string https_url = absl::StrCat("https://", HttpAddress(*https));
  const std::string ca = certs + "/ca.pem";

  std::printf(
      "# TLS against plaintext and the cost of authentication; servers in "
      "their own processes on 127.0.0.1; P-256 certificates\n");

  // 1. gRPC.
  {
    const Side plain_side{"plaintext", OptionsFor(plain->address(), "")};
    const Side tls_side{"TLS", OptionsFor(tls->address(), ca)};
    TransportTables("gRPC", {plain_side, tls_side}, {plain_side, tls_side},
                    flags);
  }

  // 2. The HTTP binding.
  {
    const Side h2c{"http:// (h2c, automatic)", OptionsFor(http_url, "")};
    Side h2c_direct{"http:// (h2c asked for)", OptionsFor(http_url, "")};
    h2c_direct.options.http.protocol = HttpProtocol::kHttp2;
    const Side h2{"https:// (ALPN)", OptionsFor(https_url, ca)};
    TransportTables("HTTP binding", {h2c, h2}, {h2c_direct, h2c, h2}, flags);
  }

  // 3. Authentication.
  std::vector<AuthRow> rows;
  rows.push_back({"no auth", plain->address(), nullptr, nullptr});
  // The client's side alone: the token goes as call credentials, and a server
  // without authentication ignores it.
  rows.push_back({"token sent, server without auth", plain->address(),
                  StaticToken(kStaticToken), nullptr});
  rows.push_back({"static token", static_auth->address(),
                  StaticToken(kStaticToken), nullptr});
  struct Jwt {
    const char* name;
    Algorithm algorithm;
    const ServerProcess* server;
    bool cached;
  };
  const Jwt jwts[] = {
      {"HS256 JWT, cached", Algorithm::kHS256, hs256.get(), true},
      {"HS256 JWT, uncached", Algorithm::kHS256, hs256.get(), false},
      {"ES256 JWT, cached", Algorithm::kES256, es256.get(), true},
      {"ES256 JWT, uncached", Algorithm::kES256, es256.get(), false},
      {"RS256 JWT, uncached", Algorithm::kRS256, rs256.get(), false},
  };
  // Enough tokens for the warm-up, `duration_s` of throughput at up to 25 000
  // calls/s and the sequential calls, or what the budget allows.
  const int64_t max_tokens = kWarmUpCalls +
                             static_cast<int64_t>(flags.duration_s * 25000) +
                             flags.uncached_calls;
  std::vector<std::string> mint_notes;
  for (const Jwt& jwt : jwts) {
    AuthRow row{jwt.name, jwt.server->address(), nullptr, nullptr};
    if (jwt.cached) {
      row.provider = StaticToken(Mint(jwt.algorithm, *keys));
    } else {
      row.queue = std::make_shared<TokenQueue>();
      const absl::Time start = absl::Now();
      row.queue->tokens = MintTokens(jwt.algorithm, *keys, max_tokens,
                                     absl::Seconds(flags.mint_budget_s));
      const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      if (static_cast<int64_t>(row.queue->tokens.size()) <=
          kWarmUpCalls + flags.uncached_calls) {
        std::fprintf(stderr, "%s: only %zu tokens minted in %.1f s\n", jwt.name,
                     row.queue->tokens.size(), seconds);
        return 1;
      }
      char note[200];
      std::snprintf(note, sizeof(note), "%s: %zu tokens minted in %.1f s",
                    jwt.name, row.queue->tokens.size(), seconds);
      mint_notes.push_back(note);
      std::shared_ptr<TokenQueue> queue = row.queue;
      row.provider = TokenFunction([queue]() -> absl::StatusOr<std::string> {
        const size_t i = queue->next.fetch_add(1);
        if (i >= queue->tokens.size()) {
          return absl::ResourceExhaustedError("no pre-minted token left");
        }
        return queue->tokens[i];
      });
    }
    rows.push_back(std::move(row));
  }
  AuthTable(rows, flags);
  std::printf("\n");
  for (const std::string& note : mint_notes) {
    std::printf("- %s (two threads, before timing)\n", note.c_str());
  }
  std::fflush(stdout);
  const int removed = std::system(absl::StrCat("rm -rf ", certs).c_str());
  (void)removed;
  return 0;
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) { return asap::bench::Main(argc, argv); }
