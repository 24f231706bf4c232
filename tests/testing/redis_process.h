// RedisProcess: a redis-server child process on a Unix socket, for tests
// and benchmarks of the Redis stores: no persistence, 64 MB, no eviction.
#ifndef ASAP_TESTS_TESTING_REDIS_PROCESS_H_
#define ASAP_TESTS_TESTING_REDIS_PROCESS_H_

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/state/redis_client.h"

namespace asap::testing {

// A redis-server child process on a Unix socket.
class RedisProcess {
 public:
  RedisProcess() {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string dir = tmp != nullptr ? tmp : "";
    // A Unix socket path is limited to 107 bytes; Bazel's TEST_TMPDIR can be
    // longer. Outside a test (no TEST_TMPDIR) a fresh directory keeps
    // concurrent runs apart.
    if (dir.empty() || dir.size() > 80) {
      char templ[] = "/tmp/asap-redis-XXXXXX";
      dir = mkdtemp(templ);
      own_dir_ = dir;
    }
    socket_ = absl::StrCat(dir, "/redis.sock");
  }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;
  ~RedisProcess() {
    Kill();
    if (!own_dir_.empty()) {
      unlink(socket_.c_str());
      rmdir(own_dir_.c_str());
    }
  }

  // Starts redis-server and waits (at most 10 s) until it answers PING.
  bool Start() {
    pid_ = fork();
    if (pid_ == 0) {
      execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
             socket_.c_str(), "--save", "", "--appendonly", "no", "--maxmemory",
             "64mb", "--maxmemory-policy", "noeviction", "--loglevel",
             "warning", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0) return false;
    RedisOptions options;
    options.url = url();
    auto client = RedisClient::Create(options);
    if (!client.ok()) return false;
    absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (absl::Now() < give_up) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited: not installed, or refused the options
      }
      if ((*client)->Command({"PING"}).ok()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  // Ends redis-server at once, as a crash would.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string url() const { return absl::StrCat("unix://", socket_); }

 private:
  std::string socket_;
  std::string own_dir_;
  pid_t pid_ = -1;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_REDIS_PROCESS_H_
