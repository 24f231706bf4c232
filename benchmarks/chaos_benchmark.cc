// Replicas under chaos: load through a real nginx to three replicas of the
// echo agent sharing one redis-server, while one replica after the other is
// SIGKILLed and restarted on its ports, and what the clients see.
//
//   bazel run //benchmarks:chaos_benchmark
//   bazel run //benchmarks:chaos_benchmark -- --duration_s=20 --compare_s=5
//
// Every process is a child of this one on 127.0.0.1: redis-server on a Unix
// socket, tests/testing/replica_agent (asap's server with the Redis replay
// and idempotency stores, logging each handler run to a file), nginx
// (grpc_pass to the replicas, tests/testing/nginx_process.cc's
// configuration). The client keeps `in_flight` Send calls open through
// nginx's gRPC listener (SendAsync; each answer starts the next call), every
// envelope with a fresh id and nonce, with the client's default retries
// (UNAVAILABLE, same envelope id) and a per-call timeout.
//
// Phases, in this order:
//   1. throughput, `compare_s` each, no kills: one replica called directly;
//      one replica behind nginx; three replicas behind nginx;
//   2. chaos, `duration_s`: three replicas behind nginx, replica k % 3
//      SIGKILLed and restarted every `kill_every_s` seconds.
//
// Reported for the chaos phase: sent (calls started), answered (OK after
// the client's retries), lost (sent - answered), the errors of the lost calls
// by ASAP code, duplicate_runs (handler starts beyond one per envelope id,
// from the replicas' run logs: a run cut short by a kill and run again
// elsewhere counts here), p50 and p99 latency of the answered calls.
//
// Flags: --duration_s=60 --kill_every_s=10 --compare_s=10 --in_flight=64
// --timeout_s=10 (per call, retries included) --handler_delay_ms=0
// --budget_tokens=N (the client's retry budget; its default otherwise)
// --nginx=/usr/sbin/nginx.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/server_process.h"
#include "client/asap_client.h"
#include "server/state/redis_client.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/nginx_process.h"
#include "tests/testing/redis_process.h"
#include "tests/testing/replica_set.h"

namespace asap::bench {
namespace {

struct Flags {
  double duration_s = 60;
  double kill_every_s = 10;
  double compare_s = 10;
  int in_flight = 64;
  double timeout_s = 10;
  int handler_delay_ms = 0;
  // The client's retry budget (RetryOptions::budget_tokens); 0 keeps the
  // client's default.
  int budget_tokens = 0;
  std::string nginx = "/usr/sbin/nginx";
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    auto value = [&](absl::string_view name, absl::string_view* out) {
      absl::string_view rest = arg;
      return absl::ConsumePrefix(&rest, "--") &&
             absl::ConsumePrefix(&rest, name) &&
             absl::ConsumePrefix(&rest, "=") && ((*out = rest), true);
    };
    absl::string_view v;
    bool ok = true;
    if (value("duration_s", &v)) {
      ok = absl::SimpleAtod(v, &flags->duration_s);
    } else if (value("kill_every_s", &v)) {
      ok = absl::SimpleAtod(v, &flags->kill_every_s);
    } else if (value("compare_s", &v)) {
      ok = absl::SimpleAtod(v, &flags->compare_s);
    } else if (value("in_flight", &v)) {
      ok = absl::SimpleAtoi(v, &flags->in_flight) && flags->in_flight > 0;
    } else if (value("timeout_s", &v)) {
      ok = absl::SimpleAtod(v, &flags->timeout_s);
    } else if (value("handler_delay_ms", &v)) {
      ok = absl::SimpleAtoi(v, &flags->handler_delay_ms);
    } else if (value("budget_tokens", &v)) {
      ok = absl::SimpleAtoi(v, &flags->budget_tokens);
    } else if (value("nginx", &v)) {
      flags->nginx = std::string(v);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "chaos_benchmark: bad flag %s\n", argv[i]);
      return false;
    }
  }
  return true;
}

// What one load phase saw.
struct LoadResult {
  int64_t sent = 0;
  int64_t answered = 0;
  // Lost calls by ASAP error code (or gRPC status when it has none), and
  // the first message of each.
  std::map<std::string, int64_t> errors;
  std::map<std::string, std::string> first_error;
  std::vector<absl::Duration> latencies;  // of answered calls
  std::vector<std::string> ids;           // every envelope id sent
  absl::Duration elapsed;
  AsapClient::RetryStats retries;

  double PerSecond() const { return answered / absl::ToDoubleSeconds(elapsed); }
};

// Keeps `in_flight` SendAsync calls open until the end time: each answer
// starts the next call.
class Load {
 public:
  Load(AsapClient* client, int in_flight, absl::Time end)
      : client_(client), in_flight_(in_flight), end_(end) {}

  void Start() {
    start_ = absl::Now();
    for (int i = 0; i < in_flight_; ++i) Next();
  }

  // Waits (at most `timeout`) for the calls still open after the end time.
  LoadResult Finish(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto idle = [this]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ == 0; };
    mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
    result_.elapsed = last_answer_ - start_;
    result_.retries = client_->retry_stats();
    if (open_ > 0) result_.errors["still open at the end"] += open_;
    return result_;
  }

 private:
  void Next() {
    v1::Envelope request = asap::testing::EchoRequest("chaos");
    request.set_id(NewUlid());
    (*request.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
        NewUlid());
    {
      absl::MutexLock lock(&mu_);
      ++open_;
      ++result_.sent;
      result_.ids.push_back(request.id());
    }
    absl::Time started = absl::Now();
    client_->SendAsync(std::move(request),
                       [this, started](absl::StatusOr<v1::Envelope> response) {
                         Done(started, response.status());
                       });
  }

  void Done(absl::Time started, const absl::Status& status) {
    absl::Time now = absl::Now();
    bool more = now < end_;
    {
      absl::MutexLock lock(&mu_);
      --open_;
      if (status.ok()) {
        ++result_.answered;
        result_.latencies.push_back(now - started);
        last_answer_ = std::max(last_answer_, now);
      } else {
        std::optional<ErrorCode> code = ErrorCodeOf(status);
        std::string name = code.has_value()
                               ? std::string(ErrorCodeName(*code))
                               : absl::StatusCodeToString(status.code());
        if (result_.errors[name]++ == 0) {
          result_.first_error[name] = std::string(status.message());
        }
      }
    }
    if (more) Next();
  }

  AsapClient* const client_;
  const int in_flight_;
  const absl::Time end_;
  absl::Time start_;
  absl::Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_answer_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  LoadResult result_ ABSL_GUARDED_BY(mu_);
};

template <typename T>
T Check(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) {
    std::fprintf(stderr, "chaos_benchmark: %s: %s\n", what,
                 value.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(value);
}

std::unique_ptr<AsapClient> MakeClient(const std::string& target,
                                       const Flags& flags) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(flags.timeout_s);
  if (flags.budget_tokens > 0)
    options.retry.budget_tokens = flags.budget_tokens;
  return Check(AsapClient::Create(options), "client");
}

// Loads `target` for `duration`; `during` runs on this thread meanwhile
// (the chaos phase kills and restarts replicas there: children must be
// started from the thread that outlives them).
LoadResult RunLoad(const std::string& target, absl::Duration duration,
                   const Flags& flags,
                   const std::function<void(absl::Time end)>& during) {
  std::unique_ptr<AsapClient> client = MakeClient(target, flags);
  // One call first: connections open and the client learns the target's
  // encodings before the clock starts.
  client->Send(asap::testing::EchoRequest("warm-up")).IgnoreError();
  absl::Time end = absl::Now() + duration;
  Load load(client.get(), flags.in_flight, end);
  load.Start();
  if (during) during(end);
  LoadResult result =
      load.Finish(absl::Seconds(flags.timeout_s) + absl::Seconds(5));
  // Calls still open are cancelled, and their callbacks run, before `load`
  // goes away.
  client.reset();
  return result;
}

void Idle(absl::Time end) { absl::SleepFor(end - absl::Now()); }

std::unique_ptr<testing::ReplicaSet> StartReplicas(
    int count, const testing::RedisProcess& redis, const Flags& flags,
    const char* argv0) {
  testing::ReplicaSetOptions options;
  options.replica_agent = FindRunfile(argv0, "tests/testing/replica_agent");
  options.replicas = count;
  options.redis_url = redis.url();
  options.handler_delay = absl::Milliseconds(flags.handler_delay_ms);
  return Check(testing::ReplicaSet::Start(options), "replicas");
}

std::unique_ptr<testing::NginxProcess> StartNginx(
    const testing::ReplicaSet& replicas, const Flags& flags) {
  testing::NginxOptions options;
  options.nginx = flags.nginx;
  options.grpc_upstreams = replicas.grpc_addresses();
  options.http_upstreams = replicas.http_addresses();
  return Check(testing::NginxProcess::Start(options), "nginx");
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  InstallChildCleanup();
  testing::RedisProcess redis;
  if (!redis.Start()) {
    std::fprintf(stderr, "chaos_benchmark: redis-server did not start\n");
    return 1;
  }
  // Every answer stays in Redis for the 330 s window (about 0.7 KB with its
  // nonce, measured here): RedisProcess's 64 MB fill up within a minute at
  // thousands of calls per second, and a full Redis refuses envelopes. Each
  // phase starts from an empty Redis.
  RedisOptions redis_options;
  redis_options.url = redis.url();
  std::unique_ptr<RedisClient> redis_admin =
      Check(RedisClient::Create(redis_options), "redis client");
  Check(redis_admin->Command({"CONFIG", "SET", "maxmemory", "4gb"}),
        "CONFIG SET maxmemory");
  auto flush = [&] { Check(redis_admin->Command({"FLUSHALL"}), "FLUSHALL"); };
  const absl::Duration compare = absl::Seconds(flags.compare_s);

  // 1. Throughput without kills.
  std::printf("throughput, %d calls in flight, %.0f s each, no kills:\n",
              flags.in_flight, flags.compare_s);
  std::printf("  %-32s %10s %10s %10s %8s\n", "setup", "calls/s", "p50 us",
              "p99 us", "lost");
  auto print_row = [](const char* setup, const LoadResult& r) {
    std::printf("  %-32s %10.0f %10.0f %10.0f %8lld\n", setup, r.PerSecond(),
                PercentileMicros(r.latencies, 50),
                PercentileMicros(r.latencies, 99),
                static_cast<long long>(r.sent - r.answered));
    std::fflush(stdout);
  };
  {
    auto one = StartReplicas(1, redis, flags, argv[0]);
    flush();
    print_row("1 replica, direct",
              RunLoad(one->grpc_address(0), compare, flags, Idle));
    auto nginx = StartNginx(*one, flags);
    flush();
    print_row("1 replica behind nginx",
              RunLoad(nginx->grpc_target(), compare, flags, Idle));
  }
  auto replicas = StartReplicas(3, redis, flags, argv[0]);
  auto nginx = StartNginx(*replicas, flags);
  flush();
  print_row("3 replicas behind nginx",
            RunLoad(nginx->grpc_target(), compare, flags, Idle));

  // 2. Chaos: the same three replicas, one SIGKILLed and restarted every
  // kill_every_s.
  int kills = 0;
  std::vector<absl::Duration> restart_times;
  auto chaos = [&](absl::Time end) {
    absl::Time next_kill = absl::Now() + absl::Seconds(flags.kill_every_s);
    while (next_kill < end) {
      absl::SleepFor(next_kill - absl::Now());
      int victim = kills % replicas->size();
      absl::Time killed_at = absl::Now();
      replicas->Kill(victim);
      ++kills;
      absl::Status restarted = replicas->Restart(victim);
      if (!restarted.ok()) {
        std::fprintf(stderr, "restart of replica %d: %s\n", victim,
                     restarted.ToString().c_str());
      }
      restart_times.push_back(absl::Now() - killed_at);
      next_kill += absl::Seconds(flags.kill_every_s);
    }
    Idle(end);
  };
  flush();
  LoadResult result = RunLoad(nginx->grpc_target(),
                              absl::Seconds(flags.duration_s), flags, chaos);

  // Handler runs per envelope id, over every replica's whole life.
  absl::flat_hash_map<std::string, int> runs;
  for (int i = 0; i < replicas->size(); ++i) {
    for (const auto& [id, count] : replicas->RunCounts(i)) runs[id] += count;
  }
  int64_t duplicate_runs = 0;
  int64_t never_ran = 0;
  for (const std::string& id : result.ids) {
    auto it = runs.find(id);
    if (it == runs.end()) {
      ++never_ran;
    } else {
      duplicate_runs += it->second - 1;
    }
  }
  absl::Duration slowest_restart;
  for (absl::Duration d : restart_times) {
    slowest_restart = std::max(slowest_restart, d);
  }

  std::printf(
      "\nchaos: %.0f s through nginx to 3 replicas, %d calls in flight, "
      "a replica SIGKILLed and restarted every %.0f s (%d kills; slowest "
      "kill+restart %s)\n",
      flags.duration_s, flags.in_flight, flags.kill_every_s, kills,
      absl::FormatDuration(slowest_restart).c_str());
  std::printf("  sent             %lld\n", static_cast<long long>(result.sent));
  std::printf("  answered         %lld (%.0f/s)\n",
              static_cast<long long>(result.answered), result.PerSecond());
  std::printf("  lost             %lld\n",
              static_cast<long long>(result.sent - result.answered));
  for (const auto& [code, count] : result.errors) {
    std::printf("    %-30s %lld (first: %s)\n", code.c_str(),
                static_cast<long long>(count),
                result.first_error[code].c_str());
  }
  std::printf("  duplicate_runs   %lld\n",
              static_cast<long long>(duplicate_runs));
  std::printf("  never_ran        %lld\n", static_cast<long long>(never_ran));
  std::printf("  p50              %.0f us\n",
              PercentileMicros(result.latencies, 50));
  std::printf("  p99              %.0f us\n",
              PercentileMicros(result.latencies, 99));
  absl::StatusOr<RedisReply> keys = redis_admin->Command({"DBSIZE"});
  absl::StatusOr<RedisReply> info = redis_admin->Command({"INFO", "memory"});
  std::string used = "?";
  if (info.ok()) {
    for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
      if (absl::ConsumePrefix(&line, "used_memory_human:")) {
        used = std::string(line);
      }
    }
  }
  std::printf("  redis            %lld keys, %s used\n",
              keys.ok() ? static_cast<long long>(keys->integer) : -1LL,
              used.c_str());
  std::printf("  client retries   %llu (budget %d tokens, refusals %llu)\n",
              static_cast<unsigned long long>(result.retries.retries),
              flags.budget_tokens > 0 ? flags.budget_tokens
                                      : RetryOptions().budget_tokens,
              static_cast<unsigned long long>(result.retries.budget_refusals));
  return 0;
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) { return asap::bench::Main(argc, argv); }
