// ASAP's HTTP binding against its gRPC binding, on the same echo agent in the
// same server process: the benchmark starts `asap serve --port 0 --http-port 0`
// (//tools/cli:asap) as a child process on 127.0.0.1 and loads it over
// loopback TCP, one case after the other, each for a fixed window after a
// warm-up:
//
//   1. gRPC   asap.v1.AsapService/Send, 1 channel (connection), 64 calls in
//             flight (callback API; each answer starts the next call).
//   2. HTTP/1.1  64 keep-alive connections, each POST /asap (JSON-RPC
//             asap.send) one after the other (Boost.Beast client).
//   3. h2c    1 connection, 64 concurrent streams (nghttp2 client session).
//   4. h2load (nghttp2-client) as an independent generator: --h1 -c 64, and
//             h2c -c 1 -m 64, with the same JSON-RPC body.
//
// Every answer is checked (HTTP 200 and a JSON-RPC "result"; gRPC status OK)
// and failures are counted and reported, never counted as throughput. The
// envelope is the echo agent's task.request without id, timestamp and
// extensions.nonce: the server fills id and timestamp in, so one body can be
// repeated.
//
//   bazel run -c opt //benchmarks:http_benchmark
//   bazel run -c opt //benchmarks:http_benchmark -- --duration_s=10 --rounds=2
//
// Flags: --warmup_s=1 --duration_s=5 (per case and round), --rounds=1 (the
// C++ cases alternate round by round), --in_flight=64, --asap=PATH (another
// server program taking `serve --port 0 --http-port 0`), --h2load=PATH
// (/usr/bin/h2load; "none" skips it), --cases=grpc,http1,h2c,h2load (a
// subset runs only those), --grpc_address=HOST:PORT and
// --http_address=HOST:PORT (both: load a server that is already running, for
// example under valgrind, instead of starting one).
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "asap/json.h"
#include "asap/v1/service.grpc.pb.h"
#include "benchmarks/http_load.h"
#include "benchmarks/server_process.h"
#include "tests/testing/echo_requests.h"

namespace asap::bench {
namespace {

// The goals this benchmark checks against.
constexpr double kHttp1RatioGoal = 0.5;       // HTTP/1.1 req/s / gRPC req/s
constexpr double kPythonReferenceRps = 1532;  // reference, 50 users
constexpr double kReferenceFactorGoal = 10;   // 15 320 req/s

struct Flags {
  double warmup_s = 1;
  double duration_s = 5;
  int rounds = 1;
  int in_flight = 64;
  std::string asap;
  std::string h2load = "/usr/bin/h2load";
  // A server already running (both set): no child is started and server CPU
  // is not measured.
  std::string grpc_address;
  std::string http_address;
  // Which cases run: grpc, http1, h2c, h2load (all by default).
  std::string cases = "grpc,http1,h2c,h2load";

  bool Runs(absl::string_view name) const {
    for (absl::string_view c : absl::StrSplit(cases, ',')) {
      if (c == name) return true;
    }
    return false;
  }
};

// ---------------------------------------------------------------------------
// CPU and load accounting.

double ProcessCpuSeconds(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  // Fields after "(comm)": state is field 3; utime 14 and stime 15.
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(text).substr(paren + 2), ' ');
  if (fields.size() < 13) return 0;
  double utime = 0, stime = 0;
  if (!absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) / sysconf(_SC_CLK_TCK);
}

double RusageSeconds(int who) {
  rusage usage = {};
  getrusage(who, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

// ---------------------------------------------------------------------------
// Results.

struct CaseResult {
  std::string binding;
  std::string shape;  // connections x in flight
  LoadResult load;
  double server_cpu_s = 0;
  double client_cpu_s = 0;
  // Wall time of the runs (warm-up and drain included), for cores used.
  double wall_s = 0;
  // Latency percentiles are unknown for h2load (it prints mean and sd).
  bool has_percentiles = true;
  std::string note;

  void Add(LoadResult more, double server_cpu, double client_cpu) {
    load.ok += more.ok;
    load.errors += more.errors;
    load.completed += more.completed;
    load.window += more.window;
    load.latencies.insert(load.latencies.end(), more.latencies.begin(),
                          more.latencies.end());
    for (const auto& [kind, n] : more.error_kinds) load.error_kinds[kind] += n;
    if (load.first_error.empty()) load.first_error = more.first_error;
    server_cpu_s += server_cpu;
    client_cpu_s += client_cpu;
  }
};

std::string FormatRate(double per_second) {
  return absl::StrFormat("%.0f", per_second);
}

std::string FormatMicros(double micros) {
  if (micros >= 1e4) return absl::StrFormat("%.1f ms", micros / 1e3);
  if (micros >= 1e3) return absl::StrFormat("%.2f ms", micros / 1e3);
  return absl::StrFormat("%.0f us", micros);
}

std::string CpuPerRequest(double cpu_s, int64_t requests) {
  if (requests <= 0 || cpu_s <= 0) return "-";
  return absl::StrFormat("%.0f us", cpu_s * 1e6 / requests);
}

// CPU seconds per wall second.
std::string Cores(double cpu_s, double wall_s) {
  if (cpu_s <= 0 || wall_s <= 0) return "-";
  return absl::StrFormat("%.2f", cpu_s / wall_s);
}

void PrintCase(const CaseResult& c) {
  std::printf("  %-16s %-9s %8s req/s", c.binding.c_str(), c.shape.c_str(),
              FormatRate(c.load.PerSecond()).c_str());
  if (c.has_percentiles) {
    std::printf("  p50 %s  p99 %s",
                FormatMicros(PercentileUs(c.load.latencies, 50)).c_str(),
                FormatMicros(PercentileUs(c.load.latencies, 99)).c_str());
  }
  std::printf("  server CPU/req %s",
              CpuPerRequest(c.server_cpu_s, c.load.completed).c_str());
  std::printf("  errors %lld", static_cast<long long>(c.load.errors));
  if (c.load.errors > 0) {
    std::printf(" (%s; first: %s)", c.load.ErrorKindsText().c_str(),
                c.load.first_error.c_str());
  }
  std::printf("  [load %s]\n", LoadAverage().c_str());
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------
// gRPC: `in_flight` Send calls on one channel; each answer starts the next.

LoadResult RunGrpcLoad(v1::AsapService::Stub* stub,
                       const v1::Envelope& prototype, int in_flight,
                       absl::Duration warmup, absl::Duration window) {
  struct Call {
    grpc::ClientContext context;
    v1::Envelope response;
    absl::Time start;
  };
  LoadRecorder recorder(warmup, window);
  absl::BlockingCounter slots_done(in_flight);
  std::function<void()> start_call = [&] {
    auto* call = new Call;
    call->start = absl::Now();
    call->context.set_deadline(
        absl::ToChronoTime(call->start + absl::Seconds(20)));
    stub->async()->Send(
        &call->context, &prototype, &call->response,
        [&, call](grpc::Status status) {
          absl::Time end = absl::Now();
          bool ok =
              status.ok() && call->response.payload_type() == "task.response";
          if (ok) {
            recorder.Ok(call->start, end);
          } else {
            std::string kind =
                status.ok() ? "not a task.response"
                            : absl::StrCat("grpc code ", status.error_code());
            recorder.Error(kind,
                           absl::StrCat(kind, ": ", status.error_message()));
          }
          delete call;
          // A failed slot stops: a dead server ends the run instead of
          // spinning (the error is counted above).
          if (ok && recorder.Accepting(end)) {
            start_call();
          } else {
            slots_done.DecrementCount();
          }
        });
  };
  for (int i = 0; i < in_flight; ++i) start_call();
  slots_done.Wait();
  return recorder.Finish();
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// ---------------------------------------------------------------------------
// h2load.

struct H2loadRun {
  std::string output;
  double rps = 0;
  int64_t done = 0;
  int64_t status_2xx = 0;
  std::string requests_line, status_line, time_line, finished_line;
  bool parsed = false;
};

H2loadRun ParseH2load(std::string output) {
  H2loadRun run;
  run.output = std::move(output);
  for (absl::string_view line : absl::StrSplit(run.output, '\n')) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "finished in ")) {
      run.finished_line = std::string(line);
      // "5.00s, 31234.40 req/s, 20.1MB/s"
      std::vector<absl::string_view> parts = absl::StrSplit(rest, ", ");
      if (parts.size() >= 2 && absl::ConsumeSuffix(&parts[1], " req/s")) {
        run.parsed = absl::SimpleAtod(parts[1], &run.rps);
      }
    } else if (absl::ConsumePrefix(&rest, "requests: ")) {
      run.requests_line = std::string(line);
      // "N total, N started, N done, N succeeded, N failed, ..."
      for (absl::string_view part : absl::StrSplit(rest, ", ")) {
        if (absl::ConsumeSuffix(&part, " done")) {
          (void)absl::SimpleAtoi(part, &run.done);
        }
      }
    } else if (absl::ConsumePrefix(&rest, "status codes: ")) {
      run.status_line = std::string(line);
      for (absl::string_view part : absl::StrSplit(rest, ", ")) {
        if (absl::ConsumeSuffix(&part, " 2xx")) {
          (void)absl::SimpleAtoi(part, &run.status_2xx);
        }
      }
    } else if (absl::StartsWith(line, "time for request:")) {
      run.time_line = std::string(line);
    }
  }
  return run;
}

std::string MakeBodyFile(const std::string& body) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/asap_h2load_XXXXXX");
  int fd = mkstemp(path.data());
  if (fd < 0) return "";
  bool ok =
      write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  close(fd);
  return ok ? path : "";
}

// Runs h2load with `shape_args`; fills a case row (req/s, errors = requests
// done without a 2xx) and prints h2load's own lines.
CaseResult RunH2load(const Flags& flags, const std::string& body_file,
                     const std::string& url, const std::string& shape_args,
                     const std::string& binding, const std::string& shape,
                     pid_t server_pid) {
  CaseResult c;
  c.binding = binding;
  c.shape = shape;
  c.has_percentiles = false;
  std::string command = absl::StrFormat(
      "'%s' -D %.0f --warm-up-time %.0f %s -H 'content-type: "
      "application/json' -d '%s' '%s' 2>&1",
      flags.h2load, flags.duration_s, flags.warmup_s, shape_args, body_file,
      url);
  std::printf("  $ %s\n", command.c_str());
  double server_cpu = ProcessCpuSeconds(server_pid);
  double children_cpu = RusageSeconds(RUSAGE_CHILDREN);
  absl::Time started = absl::Now();
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r"); pipe != nullptr) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
      output.append(buffer, n);
    }
    int status = pclose(pipe);
    if (status != 0) {
      absl::StrAppend(&output, "\n(h2load exit status ", status, ")\n");
    }
  }
  H2loadRun run = ParseH2load(std::move(output));
  double server_cpu_s = ProcessCpuSeconds(server_pid) - server_cpu;
  double client_cpu_s = RusageSeconds(RUSAGE_CHILDREN) - children_cpu;
  c.wall_s = absl::ToDoubleSeconds(absl::Now() - started);
  for (const std::string* line : {&run.finished_line, &run.requests_line,
                                  &run.status_line, &run.time_line}) {
    if (!line->empty()) std::printf("    %s\n", line->c_str());
  }
  if (!run.parsed) {
    std::printf("    (could not read h2load's output:)\n%s\n",
                run.output.c_str());
    c.note = "h2load output not understood";
    return c;
  }
  // h2load's counts cover the main duration only; its CPU and the server's
  // cover the warm-up too, so scale the request count for CPU per request.
  c.load.window = absl::Seconds(flags.duration_s);
  c.load.ok = run.status_2xx;
  c.load.errors = run.done - run.status_2xx;
  if (c.load.errors > 0) {
    c.load.error_kinds["non-2xx or failed"] = c.load.errors;
    c.load.first_error = run.status_line;
  }
  c.load.completed = static_cast<int64_t>(
      run.done * (flags.duration_s + flags.warmup_s) / flags.duration_s);
  c.server_cpu_s = server_cpu_s;
  c.client_cpu_s = client_cpu_s;
  c.note = "h2load: " +
           std::string(absl::StripAsciiWhitespace(
               absl::string_view(run.time_line)
                   .substr(std::min<size_t>(run.time_line.size(), 17))));
  return c;
}

// ---------------------------------------------------------------------------

void PrintSummary(const std::vector<CaseResult>& cases, const Flags& flags,
                  const std::string& start_load) {
  std::vector<std::vector<std::string>> rows = {
      {"binding", "conns x in-flight", "req/s", "p50", "p99", "errors",
       "server CPU/req", "client CPU/req", "server cores", "client cores"}};
  for (const CaseResult& c : cases) {
    rows.push_back({
        c.binding,
        c.shape,
        FormatRate(c.load.PerSecond()),
        c.has_percentiles ? FormatMicros(PercentileUs(c.load.latencies, 50))
                          : "-",
        c.has_percentiles ? FormatMicros(PercentileUs(c.load.latencies, 99))
                          : "-",
        std::to_string(c.load.errors),
        CpuPerRequest(c.server_cpu_s, c.load.completed),
        CpuPerRequest(c.client_cpu_s, c.load.completed),
        Cores(c.server_cpu_s, c.wall_s),
        Cores(c.client_cpu_s, c.wall_s),
    });
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::printf(
      "\nSummary: asap serve (echo agent), one child process on 127.0.0.1; "
      "%g s warm-up + %g s per case%s\n",
      flags.warmup_s, flags.duration_s,
      flags.rounds > 1
          ? absl::StrCat(" x ", flags.rounds, " rounds (C++ clients)").c_str()
          : "");
  for (const auto& row : rows) {
    std::printf(" ");
    for (size_t i = 0; i < row.size(); ++i) {
      std::printf(" %-*s |", static_cast<int>(width[i]), row[i].c_str());
    }
    std::printf("\n");
  }
  for (const CaseResult& c : cases) {
    if (!c.note.empty()) {
      std::printf("  %s %s: %s\n", c.binding.c_str(), c.shape.c_str(),
                  c.note.c_str());
    }
  }

  auto find = [&](absl::string_view binding) -> const CaseResult* {
    for (const CaseResult& c : cases) {
      if (c.binding == binding) return &c;
    }
    return nullptr;
  };
  const CaseResult* grpc = find("gRPC");
  const CaseResult* h1 = find("HTTP/1.1");
  const CaseResult* h2 = find("h2c");
  double grpc_rps = grpc != nullptr ? grpc->load.PerSecond() : 0;
  if (grpc_rps > 0) {
    std::printf("\nRatios (req/s against gRPC's %s req/s):\n",
                FormatRate(grpc_rps).c_str());
  }
  for (const CaseResult& c : cases) {
    if (&c == grpc || grpc_rps <= 0) continue;
    std::printf("  %-16s %-9s %.2f\n", c.binding.c_str(), c.shape.c_str(),
                c.load.PerSecond() / grpc_rps);
  }
  std::printf("\nGoals:\n");
  if (h1 != nullptr && grpc_rps > 0) {
    double ratio = h1->load.PerSecond() / grpc_rps;
    std::printf("  HTTP/1.1 >= %.0f%% of gRPC's throughput: %.0f%% -> %s\n",
                kHttp1RatioGoal * 100, ratio * 100,
                ratio >= kHttp1RatioGoal ? "met" : "NOT met");
  }
  double target = kPythonReferenceRps * kReferenceFactorGoal;
  for (const CaseResult* c : {h1, h2}) {
    if (c == nullptr) continue;
    double rps = c->load.PerSecond();
    std::printf(
        "  %s >= 10x the Python reference (%.0f req/s at 50 users) = %.0f "
        "req/s: %.0f req/s = %.1fx -> %s\n",
        c->binding.c_str(), kPythonReferenceRps, target, rps,
        rps / kPythonReferenceRps, rps >= target ? "met" : "NOT met");
  }
  int64_t errors = 0;
  for (const CaseResult& c : cases) errors += c.load.errors;
  std::printf("  errors: %lld%s\n", static_cast<long long>(errors),
              errors == 0 ? "" : " (the figures above are NOT valid)");
  std::printf("\nLoad average: %s at start, %s at end (2 cores shared)\n",
              start_load.c_str(), LoadAverage().c_str());
  std::fflush(stdout);
}

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  if (absl::StartsWith(*host, "[")) *host = host->substr(1, host->size() - 2);
  return absl::SimpleAtoi(address.substr(colon + 1), port);
}

int Main(const Flags& flags) {
  std::string start_load = LoadAverage();
  std::printf("http_benchmark: server %s; load average %s; %ld CPUs\n",
              flags.asap.c_str(), start_load.c_str(),
              sysconf(_SC_NPROCESSORS_ONLN));
  std::unique_ptr<ServerProcess> child;
  std::string grpc_address = flags.grpc_address;
  std::string http_address = flags.http_address;
  pid_t server_pid = 0;
  if (grpc_address.empty() || http_address.empty()) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start(flags.asap,
                             {"serve", "--port", "0", "--http-port", "0"});
    if (!server.ok()) {
      std::fprintf(stderr, "cannot start the server: %s\n",
                   server.status().ToString().c_str());
      return 1;
    }
    child = *std::move(server);
    absl::StatusOr<std::string> http_line =
        child->WaitForLine("http listening on ");
    if (!http_line.ok()) {
      std::fprintf(stderr, "no HTTP listener: %s\n",
                   http_line.status().ToString().c_str());
      return 1;
    }
    grpc_address = child->address();
    http_address = *http_line;
    server_pid = child->pid();
  }
  std::printf("gRPC on %s, HTTP on %s (server pid %d)\n", grpc_address.c_str(),
              http_address.c_str(), server_pid);

  HttpLoadOptions http;
  if (!SplitHostPort(http_address, &http.host, &http.port)) {
    std::fprintf(stderr, "bad http address %s\n", http_address.c_str());
    return 1;
  }
  const v1::Envelope envelope =
      asap::testing::EchoRequest("hello, agent", "urn:asap:agent:bench");
  http.envelope_json = ToJson(envelope);
  http.connections = flags.in_flight;
  http.streams = flags.in_flight;
  http.warmup = absl::Seconds(flags.warmup_s);
  http.window = absl::Seconds(flags.duration_s);
  const std::string body = JsonRpcSendBody(http.envelope_json, 1);
  std::printf("request body (%zu bytes): %s\n", body.size(), body.c_str());
  if (std::string problem = CheckOnePost(http.host, http.port, "/asap", body);
      !problem.empty()) {
    std::printf("SANITY CHECK FAILED: one POST /asap: %s\n", problem.c_str());
  }

  auto stub = v1::AsapService::NewStub(NewChannel(grpc_address));
  const std::string n = std::to_string(flags.in_flight);
  std::vector<CaseResult> cases;
  if (flags.Runs("grpc")) cases.push_back({"gRPC", "1 x " + n});
  if (flags.Runs("http1")) cases.push_back({"HTTP/1.1", n + " x 1"});
  if (flags.Runs("h2c")) cases.push_back({"h2c", "1 x " + n});
  auto measure = [&](CaseResult& c, const std::function<LoadResult()>& run) {
    double server_cpu = ProcessCpuSeconds(server_pid);
    double client_cpu = RusageSeconds(RUSAGE_SELF);
    absl::Time started = absl::Now();
    LoadResult result = run();
    double wall_s = absl::ToDoubleSeconds(absl::Now() - started);
    CaseResult one{c.binding, c.shape};
    one.Add(result, ProcessCpuSeconds(server_pid) - server_cpu,
            RusageSeconds(RUSAGE_SELF) - client_cpu);
    PrintCase(one);
    c.Add(std::move(result), one.server_cpu_s, one.client_cpu_s);
    c.wall_s += wall_s;
  };
  for (int round = 0; round < flags.rounds; ++round) {
    std::printf("round %d of %d\n", round + 1, flags.rounds);
    for (CaseResult& c : cases) {
      if (c.binding == "gRPC") {
        measure(c, [&] {
          return RunGrpcLoad(stub.get(), envelope, flags.in_flight, http.warmup,
                             http.window);
        });
      } else if (c.binding == "HTTP/1.1") {
        measure(c, [&] { return RunHttp1Load(http); });
      } else {
        measure(c, [&] { return RunH2cLoad(http); });
      }
    }
    std::string how;
    if (child != nullptr && !child->Running(&how)) {
      std::printf("THE SERVER ENDED: %s\n", how.c_str());
      break;
    }
  }

  if (!flags.Runs("h2load")) {
    // Not asked for.
  } else if (flags.h2load != "none" &&
             access(flags.h2load.c_str(), X_OK) == 0) {
    std::string body_file = MakeBodyFile(body);
    std::string url =
        absl::StrCat("http://", http.host, ":", http.port, "/asap");
    std::printf("h2load (%s):\n", flags.h2load.c_str());
    cases.push_back(RunH2load(flags, body_file, url,
                              absl::StrCat("-c ", n, " --h1"),
                              "h2load HTTP/1.1", n + " x 1", server_pid));
    cases.push_back(RunH2load(flags, body_file, url,
                              absl::StrCat("-c 1 -m ", n), "h2load h2c",
                              "1 x " + n, server_pid));
    if (!body_file.empty()) unlink(body_file.c_str());
  } else {
    std::printf("h2load: skipped (%s not executable)\n", flags.h2load.c_str());
  }

  PrintSummary(cases, flags, start_load);
  if (child != nullptr) {
    std::string how;
    bool running = child->Running(&how);
    if (absl::StatusOr<int64_t> peak = child->PeakRssBytes(); peak.ok()) {
      std::printf("Server peak RSS: %.1f MiB\n", *peak / (1024.0 * 1024.0));
    }
    if (!running) {
      std::printf("THE SERVER ENDED during the run: %s\n", how.c_str());
    }
    std::printf("Server stopped: %s\n", child->Stop().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) {
  asap::bench::InstallChildCleanup();
  // Kept initialized for the whole run (see server_benchmark_main.cc).
  grpc_init();
  asap::bench::Flags flags;
  flags.asap = asap::bench::FindRunfile(argv[0], "tools/cli/asap");
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    bool ok = true;
    if (absl::ConsumePrefix(&arg, "--warmup_s=")) {
      ok = absl::SimpleAtod(arg, &flags.warmup_s) && flags.warmup_s >= 0;
    } else if (absl::ConsumePrefix(&arg, "--duration_s=")) {
      ok = absl::SimpleAtod(arg, &flags.duration_s) && flags.duration_s > 0;
    } else if (absl::ConsumePrefix(&arg, "--rounds=")) {
      ok = absl::SimpleAtoi(arg, &flags.rounds) && flags.rounds > 0;
    } else if (absl::ConsumePrefix(&arg, "--in_flight=")) {
      ok = absl::SimpleAtoi(arg, &flags.in_flight) && flags.in_flight > 0;
    } else if (absl::ConsumePrefix(&arg, "--asap=")) {
      flags.asap = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--h2load=")) {
      flags.h2load = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--cases=")) {
      flags.cases = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--grpc_address=")) {
      flags.grpc_address = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--http_address=")) {
      flags.http_address = std::string(arg);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: http_benchmark [--warmup_s=1] [--duration_s=5] "
                   "[--rounds=1] [--in_flight=64] [--asap=PATH] "
                   "[--h2load=PATH|none] [--cases=grpc,http1,h2c,h2load] "
                   "[--grpc_address=H:P "
                   "--http_address=H:P]\nbad flag: %s\n",
                   argv[i]);
      return 2;
    }
  }
  return asap::bench::Main(flags);
}
