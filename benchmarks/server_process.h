// ServerProcess: a server program run as a child process of a benchmark, so
// that the server is measured as deployed (its own process, its own heap and
// threads) rather than sharing the benchmark's.
//
//   absl::StatusOr<std::unique_ptr<ServerProcess>> server =
//       ServerProcess::Start(FindRunfile(argv[0],
//       "benchmarks/asap_echo_server"),
//                            {"0"});
//   ... connect to (*server)->address() ...
//   (*server)->PeakRssBytes();   // VmHWM of the child
//   server->reset();             // SIGTERM, then SIGKILL; always reaped
//
// The program must print "listening on HOST:PORT" on stdout once it serves.
// Children never outlive the benchmark: the destructor stops them,
// InstallChildCleanup() kills them on SIGINT/SIGTERM/SIGHUP and at exit(), and
// each child asks the kernel for SIGKILL when the benchmark dies any other way
// (crash, SIGKILL).
#ifndef ASAP_BENCHMARKS_SERVER_PROCESS_H_
#define ASAP_BENCHMARKS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asap::bench {

class ServerProcess {
 public:
  // Starts `path` with `args` and waits (at most `timeout`) for its
  // "listening on" line. The child is killed again when that line does not
  // come.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& path, const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(30));

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Stop().
  ~ServerProcess();

  pid_t pid() const { return pid_; }
  // host:port from the "listening on" line, for example "127.0.0.1:40125".
  const std::string& address() const { return address_; }

  // Reads the child's stdout after the "listening on" line until a line that
  // starts with `prefix` (for example "http listening on "), waiting at most
  // `timeout`; returns the rest of that line, whitespace stripped.
  absl::StatusOr<std::string> WaitForLine(
      absl::string_view prefix, absl::Duration timeout = absl::Seconds(30));

  // SIGTERM, then SIGKILL when the child has not exited after `grace`; reaps
  // it. Returns how it ended ("exit 0", "signal 9", ...). Idempotent.
  std::string Stop(absl::Duration grace = absl::Seconds(3));

  // Whether the child is still running; when not, reaps it and sets `how`.
  bool Running(std::string* how = nullptr);

  // The child's peak resident set (VmHWM) and current one (VmRSS), in bytes,
  // from /proc/PID/status.
  absl::StatusOr<int64_t> PeakRssBytes() const;
  absl::StatusOr<int64_t> RssBytes() const;

 private:
  ServerProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}

  pid_t pid_;
  // Kept open while the child runs: closing it would make a later write to
  // stdout kill the child with SIGPIPE.
  int stdout_fd_;
  std::string address_;
  // Stdout read but not yet consumed by a line search.
  std::string pending_output_;
  bool reaped_ = false;
  std::string how_ended_;
};

// Kills every running child on SIGINT, SIGTERM and SIGHUP (then dies of the
// signal as before) and at exit(). Call once, early in main.
void InstallChildCleanup();

// The path of the runfile `path` (relative to the workspace, for example
// "benchmarks/asap_echo_server") of the binary started as `argv0`: found under
// $RUNFILES_DIR, `argv0`.runfiles or the current directory (bazel run starts
// binaries in their runfiles tree). Returns `path` itself when none exists.
std::string FindRunfile(const char* argv0, const std::string& path);

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_SERVER_PROCESS_H_
