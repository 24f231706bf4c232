#include "benchmarks/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace asap::bench {
namespace {

// Pids of running children, readable from a signal handler (no locks, no
// allocation there).
constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void RememberChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
  // More children than slots: the parent-death signal still covers it.
}

void ForgetChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void KillChildren(bool reap) {
  for (auto& slot : g_children) {
    pid_t pid = slot.exchange(0);
    if (pid <= 0) continue;
    kill(pid, SIGKILL);
    if (reap) waitpid(pid, nullptr, 0);
  }
}

void OnTerminatingSignal(int signal_number) {
  // Reaped here too: an orphaned zombie is left to init, which some
  // containers do not run.
  KillChildren(/*reap=*/true);
  // Die of the same signal, as the default action would have.
  ::signal(signal_number, SIG_DFL);
  raise(signal_number);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("signal ", WTERMSIG(status), " (",
                        strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("wait status ", status);
}

absl::StatusOr<int64_t> StatusFieldBytes(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("no /proc/", pid));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field) || !absl::ConsumePrefix(&rest, ":"))
      continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    int64_t kib;
    if (!absl::SimpleAtoi(rest, &kib)) break;
    return kib * 1024;
  }
  return absl::NotFoundError(absl::StrCat(field, " not in /proc/", pid));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& path, const std::vector<std::string>& args,
    absl::Duration timeout) {
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no executable at ", path));
  }
  // Everything the child needs is prepared before fork: between fork and exec
  // a child of a multithreaded process may only make async-signal-safe calls.
  std::vector<std::string> owned = {path};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // The kernel kills the server when the benchmark dies, however it dies.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGHUP, SIG_DFL);
    dup2(pipe_fds[1], STDOUT_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  RememberChild(pid);
  std::unique_ptr<ServerProcess> child(new ServerProcess(pid, pipe_fds[0]));

  // Read stdout until the "listening on HOST:PORT" line.
  absl::StatusOr<std::string> address =
      child->WaitForLine("listening on ", timeout);
  if (!address.ok()) {
    std::string how = child->Stop(absl::Seconds(1));
    return absl::Status(address.status().code(),
                        absl::StrCat(path, ": ", address.status().message(),
                                     " (stopped: ", how, ")"));
  }
  child->address_ = *std::move(address);
  return child;
}

absl::StatusOr<std::string> ServerProcess::WaitForLine(absl::string_view prefix,
                                                       absl::Duration timeout) {
  absl::Time give_up = absl::Now() + timeout;
  while (true) {
    size_t line_end = pending_output_.find('\n');
    while (line_end != std::string::npos) {
      absl::string_view line(pending_output_.data(), line_end);
      if (absl::ConsumePrefix(&line, prefix)) {
        std::string rest(absl::StripAsciiWhitespace(line));
        pending_output_.erase(0, line_end + 1);
        return rest;
      }
      pending_output_.erase(0, line_end + 1);
      line_end = pending_output_.find('\n');
    }
    if (stdout_fd_ < 0) {
      return absl::FailedPreconditionError("the server has been stopped");
    }
    int64_t wait_ms = absl::ToInt64Milliseconds(give_up - absl::Now());
    if (wait_ms <= 0) {
      std::string how;
      Running(&how);
      return absl::DeadlineExceededError(absl::StrCat(
          "the server printed no '", prefix, "' line within ",
          absl::FormatDuration(timeout),
          how.empty() ? "" : absl::StrCat("; it ended with ", how)));
    }
    pollfd poll_fd = {stdout_fd_, POLLIN, 0};
    int ready = poll(&poll_fd, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[4096];
    ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string how;
      absl::Time wait_until = absl::Now() + absl::Seconds(1);
      while (Running(&how) && absl::Now() < wait_until) {
        absl::SleepFor(absl::Milliseconds(10));
      }
      return absl::UnavailableError(absl::StrCat(
          "the server closed stdout before printing '", prefix, "'",
          how.empty() ? "" : absl::StrCat("; it ended with ", how)));
    }
    pending_output_.append(buffer, n);
  }
}

ServerProcess::~ServerProcess() { Stop(); }

bool ServerProcess::Running(std::string* how) {
  if (!reaped_) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      reaped_ = true;
      how_ended_ =
          done == pid_ ? DescribeWaitStatus(status) : "reaped elsewhere";
      ForgetChild(pid_);
    }
  }
  if (how != nullptr) *how = how_ended_;
  return !reaped_;
}

std::string ServerProcess::Stop(absl::Duration grace) {
  if (Running()) {
    kill(pid_, SIGTERM);
    absl::Time kill_at = absl::Now() + grace;
    while (Running() && absl::Now() < kill_at)
      absl::SleepFor(absl::Milliseconds(10));
    if (Running()) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
      how_ended_ = DescribeWaitStatus(status);
      ForgetChild(pid_);
    }
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
  }
  return how_ended_;
}

absl::StatusOr<int64_t> ServerProcess::PeakRssBytes() const {
  return StatusFieldBytes(pid_, "VmHWM");
}

absl::StatusOr<int64_t> ServerProcess::RssBytes() const {
  return StatusFieldBytes(pid_, "VmRSS");
}

void InstallChildCleanup() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction action = {};
    action.sa_handler = OnTerminatingSignal;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number, &action, nullptr);
  }
  std::atexit([] { KillChildren(/*reap=*/true); });
}

std::string FindRunfile(const char* argv0, const std::string& path) {
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("RUNFILES_DIR"); dir != nullptr) {
    candidates.push_back(absl::StrCat(dir, "/asap/", path));
  }
  if (argv0 != nullptr) {
    candidates.push_back(absl::StrCat(argv0, ".runfiles/asap/", path));
  }
  candidates.push_back(path);
  for (const std::string& candidate : candidates) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return path;
}

}  // namespace asap::bench
