// ReplicaSet: N replicas of the echo agent (tests/testing/replica_agent), each
// its own child process on 127.0.0.1 with a gRPC and an HTTP-binding port,
// sharing one Redis, for the deployment tests and the chaos benchmark.
//
//   testing::RedisProcess redis;
//   redis.Start();
//   ReplicaSetOptions options;
//   options.replica_agent = bench::FindRunfile(argv0,
//                                              "tests/testing/replica_agent");
//   options.redis_url = redis.url();
//   absl::StatusOr<std::unique_ptr<ReplicaSet>> replicas =
//       ReplicaSet::Start(options);
//   (*replicas)->Kill(1);          // SIGKILL, as a crash
//   (*replicas)->Restart(1);       // on the same two ports
//   (*replicas)->RunsOf(id);       // handler runs per replica, from run logs
//
// Every replica appends one line with the envelope id to its run log each
// time a handler starts (replica_agent.cc); the logs survive SIGKILL and a
// restart appends to the same file, so the counts are over the replica's
// whole life. The ports stay the same across restarts, so a load balancer's
// list of replicas stays valid.
//
// Children are SIGKILLed by the destructor, and by the kernel when the thread
// that started them ends: start and restart replicas from a thread that
// outlives them (the test's or the benchmark's main thread).
#ifndef ASAP_TESTS_TESTING_REPLICA_SET_H_
#define ASAP_TESTS_TESTING_REPLICA_SET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "benchmarks/server_process.h"

namespace asap::testing {

struct ReplicaSetOptions {
  // The replica_agent binary.
  std::string replica_agent = "tests/testing/replica_agent";
  int replicas = 3;
  // The shared Redis (redis://... or unix://...); empty: each replica keeps
  // its own in-memory stores.
  std::string redis_url;
  // With Redis unreachable, serve from each replica's own stores instead of
  // refusing envelopes.
  bool redis_fail_open = false;
  // How long each handler sleeps before answering.
  absl::Duration handler_delay = absl::ZeroDuration();
  // Directory of the run logs; empty: a new one under TEST_TMPDIR (or /tmp).
  std::string dir;
  // How long a replica may take to start (and to restart, in all).
  absl::Duration start_timeout = absl::Seconds(20);
};

class ReplicaSet {
 public:
  // Starts every replica on ports the kernel picks and waits for each to
  // serve.
  static absl::StatusOr<std::unique_ptr<ReplicaSet>> Start(
      ReplicaSetOptions options);

  ReplicaSet(const ReplicaSet&) = delete;
  ReplicaSet& operator=(const ReplicaSet&) = delete;
  // SIGKILLs every replica still running.
  ~ReplicaSet();

  int size() const { return static_cast<int>(replicas_.size()); }

  // Replica `i`'s "127.0.0.1:P" (gRPC) and "127.0.0.1:Q" (HTTP binding);
  // the same after a restart.
  std::string grpc_address(int i) const;
  std::string http_address(int i) const;
  // Every replica's addresses, in order (nginx's upstream lists).
  std::vector<std::string> grpc_addresses() const;
  std::vector<std::string> http_addresses() const;
  // "ipv4:127.0.0.1:P1,127.0.0.1:P2,...": an AsapClient target balanced
  // over every replica.
  std::string grpc_target() const;
  // The replica whose gRPC port is `port` (the replica_port the replicas put
  // in their answers' extensions); -1 when none.
  int IndexOfPort(int port) const;

  // Ends replica `i` at once (SIGKILL), as a crash, and reaps it.
  void Kill(int i);
  // Starts replica `i` again on its ports; Unavailable when it does not
  // serve within start_timeout.
  absl::Status Restart(int i);
  bool Running(int i);

  // Handler runs of `envelope_id` on each replica (one count per replica).
  std::vector<int> RunsOf(const std::string& envelope_id) const;
  // Handler runs per envelope id on replica `i`.
  absl::flat_hash_map<std::string, int> RunCounts(int i) const;
  // Handler runs on replica `i`, all envelopes together.
  int TotalRuns(int i) const;
  // Waits until a handler for `envelope_id` has started on some replica;
  // returns the first such replica, or DeadlineExceeded after `timeout`.
  absl::StatusOr<int> WaitForRun(const std::string& envelope_id,
                                 absl::Duration timeout) const;

 private:
  struct Replica {
    int grpc_port = 0;
    int http_port = 0;
    std::string run_log;
    std::unique_ptr<bench::ServerProcess> process;
  };

  explicit ReplicaSet(ReplicaSetOptions options)
      : options_(std::move(options)) {}
  // Starts `replica` on its ports (0: the kernel picks) and records the
  // ports it bound.
  absl::Status Launch(Replica& replica);

  const ReplicaSetOptions options_;
  std::vector<Replica> replicas_;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_REPLICA_SET_H_
