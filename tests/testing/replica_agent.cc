// replica_agent: one replica of the echo agent for the deployment tests and
// the chaos benchmark, run as a child process so that it can be SIGKILLed.
//
//   replica_agent --port 0 --http-port 0 --redis unix:///tmp/redis.sock
//                 --run-log /tmp/replica-0.runs [--handler-delay-ms 200]
//                 [--redis-fail-open true]
//
// Prints one line once it serves:
//
//   listening on 127.0.0.1:GRPC_PORT http 127.0.0.1:HTTP_PORT
//
// Every time a handler starts for an envelope it appends "<envelope id>\n"
// to the run log with a single write() on an O_APPEND descriptor, before the
// handler's delay: a line is either wholly in the file or not at all, even
// when the replica is SIGKILLed, so the parent can count handler runs across
// replicas and find the replica whose handler holds a call. Each response
// carries extensions.replica_port (this replica's gRPC port), so the parent
// also knows which run produced the answer it got, including an answer
// replayed from the shared idempotency store. SIGTERM or SIGINT shut the
// server down gracefully.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/asap_server.h"
#include "server/shutdown_signals.h"
#include "server/state/redis_stores.h"
#include "tests/testing/echo_requests.h"

namespace asap::testing {
namespace {

// Appends one line per handler run; shared by every handler thread.
class RunLog {
 public:
  static absl::StatusOr<std::unique_ptr<RunLog>> Open(const std::string& path) {
    if (path.empty()) return std::unique_ptr<RunLog>(new RunLog(-1));
    int fd =
        open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--run-log ", path, ": ", strerror(errno)));
    }
    return std::unique_ptr<RunLog>(new RunLog(fd));
  }
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  ~RunLog() {
    if (fd_ >= 0) close(fd_);
  }

  // One write() of the whole line: O_APPEND makes it atomic with respect to
  // the other threads' lines.
  void Record(const std::string& envelope_id) const {
    if (fd_ < 0) return;
    std::string line = absl::StrCat(envelope_id, "\n");
    if (write(fd_, line.data(), line.size()) !=
        static_cast<ssize_t>(line.size())) {
      std::cerr << "replica_agent: run log write failed: " << strerror(errno)
                << std::endl;
    }
  }

 private:
  explicit RunLog(int fd) : fd_(fd) {}
  const int fd_;
};

// What every handler does around the echo agent's own: record the run,
// wait, and mark the answer with this replica's port.
struct RunContext {
  const RunLog* log;
  absl::Duration delay;
  // Set once the server is bound; no call can arrive before its port is
  // printed.
  std::atomic<int> port{0};

  void BeforeHandler(const v1::Envelope& request) const {
    log->Record(request.id());
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  }
  absl::StatusOr<v1::Envelope> Mark(
      absl::StatusOr<v1::Envelope> response) const {
    if (response.ok()) {
      (*response->mutable_extensions()->mutable_fields())["replica_port"]
          .set_number_value(port.load());
    }
    return response;
  }
};

HandlerRegistry ReplicaHandlers(const RunContext* run) {
  HandlerRegistry handlers;
  // Registering in a fresh registry cannot fail.
  for (const char* payload_type : {"task.request", "TaskRequest"}) {
    handlers
        .Register(
            payload_type,
            [run](const v1::Envelope& request, const HandlerContext& context)
                -> absl::StatusOr<v1::Envelope> {
              run->BeforeHandler(request);
              return run->Mark(asap::EchoTask(request, context.manifest()));
            })
        .IgnoreError();
  }
  handlers
      .RegisterStreaming(
          "echo.stream",
          [run](const v1::Envelope& request, const HandlerContext& context,
                const StreamEmit& emit) -> absl::StatusOr<v1::Envelope> {
            run->BeforeHandler(request);
            return run->Mark(asap::EchoStream(request, context, emit));
          })
      .IgnoreError();
  return handlers;
}

// The command line: "--name value" or "--name=value" for each of kFlags.
struct Flags {
  int port = 0;
  int http_port = 0;
  std::string redis;
  bool redis_fail_open = false;
  std::string run_log;
  int handler_delay_ms = 0;
};

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  absl::flat_hash_map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected ", argv[i]));
    }
    size_t equals = arg.find('=');
    if (equals != absl::string_view::npos) {
      values[std::string(arg.substr(0, equals))] =
          std::string(arg.substr(equals + 1));
    } else if (i + 1 < argc) {
      values[std::string(arg)] = argv[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(argv[i], " needs a value"));
    }
  }
  Flags flags;
  auto number = [&](const char* name, int* out) -> absl::Status {
    auto it = values.find(name);
    if (it == values.end()) return absl::OkStatus();
    if (!absl::SimpleAtoi(it->second, out) || *out < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " takes a number, not ", it->second));
    }
    values.erase(it);
    return absl::OkStatus();
  };
  auto text = [&](const char* name, std::string* out) {
    auto it = values.find(name);
    if (it == values.end()) return;
    *out = it->second;
    values.erase(it);
  };
  for (auto [name, out] : {std::pair<const char*, int*>{"port", &flags.port},
                           {"http-port", &flags.http_port},
                           {"handler-delay-ms", &flags.handler_delay_ms}}) {
    if (absl::Status s = number(name, out); !s.ok()) return s;
  }
  text("redis", &flags.redis);
  text("run-log", &flags.run_log);
  std::string fail_open = "false";
  text("redis-fail-open", &fail_open);
  if (fail_open != "true" && fail_open != "false") {
    return absl::InvalidArgumentError(
        "--redis-fail-open must be true or false");
  }
  flags.redis_fail_open = fail_open == "true";
  if (!values.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown flag --", values.begin()->first));
  }
  if (flags.port > 65535 || flags.http_port > 65535) {
    return absl::InvalidArgumentError("ports must be 0 to 65535");
  }
  return flags;
}

absl::Status Serve(const Flags& flags) {
  ShutdownSignals signals;  // before any thread starts
  absl::StatusOr<std::unique_ptr<RunLog>> log = RunLog::Open(flags.run_log);
  if (!log.ok()) return log.status();
  RunContext run;
  run.log = log->get();
  run.delay = absl::Milliseconds(flags.handler_delay_ms);

  ServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", flags.port);
  options.http_address = absl::StrCat("127.0.0.1:", flags.http_port);
  options.manifest = asap::EchoManifest("");
  // The same stores as `asap serve --redis`.
  if (!flags.redis.empty()) {
    RedisOptions redis;
    redis.url = flags.redis;
    redis.fail_open = flags.redis_fail_open;
    absl::StatusOr<RedisStores> stores = MakeRedisStores(
        std::move(redis),
        options.validation.max_age + options.validation.max_future,
        static_cast<size_t>(options.max_message_bytes),
        NonceStoreOptions{options.limits.max_nonce_bytes,
                          options.limits.max_nonces});
    if (!stores.ok()) return stores.status();
    options.replay_store = stores->replay;
    options.idempotency_store = stores->idempotency;
  }
  absl::StatusOr<std::unique_ptr<AsapServer>> server =
      AsapServer::Start(std::move(options), ReplicaHandlers(&run));
  if (!server.ok()) return server.status();
  run.port.store((*server)->port());
  std::cout << "listening on " << (*server)->address() << " http "
            << (*server)->http_address() << std::endl;
  signals.Wait();
  (*server)->Shutdown(absl::Seconds(5));
  (*server)->Wait();
  return absl::OkStatus();
}

}  // namespace
}  // namespace asap::testing

int main(int argc, char** argv) {
  absl::StatusOr<asap::testing::Flags> flags =
      asap::testing::ParseFlags(argc, argv);
  absl::Status status =
      flags.ok() ? asap::testing::Serve(*flags) : flags.status();
  if (!status.ok()) {
    std::cerr << "replica_agent: " << status << std::endl;
    return 1;
  }
  return 0;
}
