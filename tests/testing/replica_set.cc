#include "tests/testing/replica_set.h"

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace asap::testing {
namespace {

// The port of "127.0.0.1:P".
bool ParsePort(absl::string_view address, int* port) {
  size_t colon = address.rfind(':');
  return colon != absl::string_view::npos &&
         absl::SimpleAtoi(address.substr(colon + 1), port) && *port > 0;
}

std::string Loopback(int port) { return absl::StrCat("127.0.0.1:", port); }

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaSet>> ReplicaSet::Start(
    ReplicaSetOptions options) {
  if (options.replicas < 1) {
    return absl::InvalidArgumentError("a replica set needs a replica");
  }
  if (options.dir.empty()) {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string templ = absl::StrCat(
        tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/replicas-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp ", templ, ": ", strerror(errno)));
    }
    options.dir = templ;
  }
  std::unique_ptr<ReplicaSet> set(new ReplicaSet(std::move(options)));
  set->replicas_.resize(set->options_.replicas);
  for (int i = 0; i < set->size(); ++i) {
    Replica& replica = set->replicas_[i];
    replica.run_log = absl::StrCat(set->options_.dir, "/replica-", i, ".runs");
    if (absl::Status s = set->Launch(replica); !s.ok()) return s;
  }
  return set;
}

absl::Status ReplicaSet::Launch(Replica& replica) {
  std::vector<std::string> args = {
      "--port",
      absl::StrCat(replica.grpc_port),
      "--http-port",
      absl::StrCat(replica.http_port),
      "--run-log",
      replica.run_log,
      "--handler-delay-ms",
      absl::StrCat(absl::ToInt64Milliseconds(options_.handler_delay))};
  if (!options_.redis_url.empty()) {
    args.insert(args.end(), {"--redis", options_.redis_url, "--redis-fail-open",
                             options_.redis_fail_open ? "true" : "false"});
  }
  absl::StatusOr<std::unique_ptr<bench::ServerProcess>> process =
      bench::ServerProcess::Start(options_.replica_agent, args,
                                  options_.start_timeout);
  if (!process.ok()) return process.status();
  // "127.0.0.1:P http 127.0.0.1:Q"
  std::vector<absl::string_view> words =
      absl::StrSplit((*process)->address(), ' ');
  int grpc_port = 0;
  int http_port = 0;
  if (words.size() != 3 || words[1] != "http" ||
      !ParsePort(words[0], &grpc_port) || !ParsePort(words[2], &http_port)) {
    return absl::InternalError(absl::StrCat(
        "replica_agent printed an unexpected line: ", (*process)->address()));
  }
  replica.grpc_port = grpc_port;
  replica.http_port = http_port;
  replica.process = *std::move(process);
  return absl::OkStatus();
}

ReplicaSet::~ReplicaSet() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::string ReplicaSet::grpc_address(int i) const {
  return Loopback(replicas_[i].grpc_port);
}

std::string ReplicaSet::http_address(int i) const {
  return Loopback(replicas_[i].http_port);
}

std::vector<std::string> ReplicaSet::grpc_addresses() const {
  std::vector<std::string> addresses;
  for (int i = 0; i < size(); ++i) addresses.push_back(grpc_address(i));
  return addresses;
}

std::vector<std::string> ReplicaSet::http_addresses() const {
  std::vector<std::string> addresses;
  for (int i = 0; i < size(); ++i) addresses.push_back(http_address(i));
  return addresses;
}

std::string ReplicaSet::grpc_target() const {
  return absl::StrCat("ipv4:", absl::StrJoin(grpc_addresses(), ","));
}

int ReplicaSet::IndexOfPort(int port) const {
  for (int i = 0; i < size(); ++i) {
    if (replicas_[i].grpc_port == port) return i;
  }
  return -1;
}

void ReplicaSet::Kill(int i) {
  Replica& replica = replicas_[i];
  if (replica.process == nullptr) return;
  if (replica.process->Running()) kill(replica.process->pid(), SIGKILL);
  // Reaps it (the SIGTERM Stop sends first finds it gone).
  replica.process->Stop(absl::Seconds(1));
  replica.process.reset();
}

absl::Status ReplicaSet::Restart(int i) {
  Kill(i);
  // The ports were free the moment the replica died; a new one binds them
  // at once unless another process took one meanwhile, which is retried
  // until start_timeout.
  absl::Time give_up = absl::Now() + options_.start_timeout;
  absl::Status status;
  do {
    status = Launch(replicas_[i]);
    if (status.ok()) return status;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < give_up);
  return absl::UnavailableError(absl::StrCat(
      "replica ", i, " did not restart on its ports: ", status.message()));
}

bool ReplicaSet::Running(int i) {
  return replicas_[i].process != nullptr && replicas_[i].process->Running();
}

absl::flat_hash_map<std::string, int> ReplicaSet::RunCounts(int i) const {
  absl::flat_hash_map<std::string, int> counts;
  std::ifstream in(replicas_[i].run_log);
  std::string line;
  // A line without its newline cannot happen (one write() per line); one
  // is ignored all the same rather than counted as another id.
  while (std::getline(in, line)) {
    if (!in.eof()) ++counts[line];
  }
  return counts;
}

int ReplicaSet::TotalRuns(int i) const {
  int total = 0;
  for (const auto& [id, count] : RunCounts(i)) total += count;
  return total;
}

std::vector<int> ReplicaSet::RunsOf(const std::string& envelope_id) const {
  std::vector<int> runs;
  for (int i = 0; i < size(); ++i) {
    absl::flat_hash_map<std::string, int> counts = RunCounts(i);
    auto it = counts.find(envelope_id);
    runs.push_back(it == counts.end() ? 0 : it->second);
  }
  return runs;
}

absl::StatusOr<int> ReplicaSet::WaitForRun(const std::string& envelope_id,
                                           absl::Duration timeout) const {
  absl::Time give_up = absl::Now() + timeout;
  while (true) {
    std::vector<int> runs = RunsOf(envelope_id);
    for (int i = 0; i < size(); ++i) {
      if (runs[i] > 0) return i;
    }
    if (absl::Now() >= give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("no handler for ", envelope_id, " started within ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace asap::testing
