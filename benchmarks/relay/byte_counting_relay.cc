#include "benchmarks/relay/byte_counting_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace asap::bench {
namespace {

// Per direction, per connection.
constexpr size_t kBufferSize = 64 * 1024;

// How long accepting stays paused after accept() fails for lack of resources
// (EMFILE and the like), so the loop does not spin on a listener that keeps
// polling readable.
constexpr std::chrono::milliseconds kAcceptRetry(100);

void SetNoDelay(int fd) {
  int one = 1;
  // Best effort: a failure only costs latency, never correctness.
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void CloseFd(int fd) {
  if (fd >= 0) (void)close(fd);
}

// Closes with a reset (RST) instead of a FIN, so the peer sees the failure
// rather than what could pass for a clean end of stream.
void AbortFd(int fd) {
  if (fd < 0) return;
  struct linger lg = {1, 0};
  (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  (void)close(fd);
}

// counter -= amount, stopping at zero (a concurrent Reset may have zeroed the
// bytes being taken back).
void SubtractSaturating(std::atomic<uint64_t>& counter, uint64_t amount) {
  uint64_t current = counter.load();
  while (!counter.compare_exchange_weak(
      current, current >= amount ? current - amount : 0)) {
  }
}

bool WouldBlock(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

// One direction of one connection: a bounded buffer of bytes read from the
// source and not yet written to the destination, plus the half-close state.
using Clock = std::chrono::steady_clock;

struct Direction {
  std::unique_ptr<char[]> data{new char[kBufferSize]};
  size_t begin = 0;
  size_t end = 0;
  bool eof = false;   // the source has finished sending
  bool shut = false;  // ...and that was forwarded: shutdown(dest, SHUT_WR)
  // With a delay: bytes read so far, bytes that may be written (read at
  // least `delay` ago), bytes written, and when later reads become due.
  uint64_t read_total = 0;
  uint64_t released_total = 0;
  uint64_t written_total = 0;
  std::deque<std::pair<Clock::time_point, uint64_t>> due;

  size_t pending() const { return end - begin; }
  bool WantsRead() const { return !eof && pending() < kBufferSize; }
  bool WantsWrite() const {
    return pending() > 0 && released_total > written_total;
  }
  // Releases the reads that are due at `now`; true when any was.
  bool Release(Clock::time_point now) {
    bool any = false;
    while (!due.empty() && due.front().first <= now) {
      released_total = due.front().second;
      due.pop_front();
      any = true;
    }
    return any;
  }
};

struct Connection {
  int client_fd = -1;
  int server_fd = -1;
  bool connecting = false;  // non-blocking connect to the target in progress
  Direction upstream;       // client -> server
  Direction downstream;     // server -> client

  bool done() const { return upstream.shut && downstream.shut; }
};

// Reads once from `from` into `dir` (when `readable`), then writes what is
// buffered to `to` (when `writable` or just read), counting written bytes.
// Forwards EOF as shutdown(SHUT_WR) once the buffer has drained. Returns false
// on a hard socket error: the connection must then be aborted.
bool Pump(Direction& dir, int from, int to, bool readable, bool writable,
          std::chrono::microseconds delay, std::atomic<uint64_t>& counter) {
  if (readable && dir.WantsRead()) {
    if (dir.end == kBufferSize) {  // room only at the front: compact
      std::memmove(dir.data.get(), dir.data.get() + dir.begin, dir.pending());
      dir.end -= dir.begin;
      dir.begin = 0;
    }
    ssize_t n = recv(from, dir.data.get() + dir.end, kBufferSize - dir.end, 0);
    if (n > 0) {
      dir.end += static_cast<size_t>(n);
      dir.read_total += static_cast<uint64_t>(n);
      if (delay.count() == 0) {
        dir.released_total = dir.read_total;
        writable = true;  // worth trying at once; EAGAIN costs nothing
      } else {
        dir.due.emplace_back(Clock::now() + delay, dir.read_total);
      }
    } else if (n == 0) {
      dir.eof = true;
    } else if (!WouldBlock(errno)) {
      return false;
    }
  }
  if (to < 0) return true;  // destination not connected yet
  if (writable && dir.WantsWrite()) {
    // Count first and take back what was not sent, so a byte is counted
    // before the peer can possibly see it (see the header).
    const size_t want = static_cast<size_t>(std::min<uint64_t>(
        dir.pending(), dir.released_total - dir.written_total));
    counter.fetch_add(want);
    ssize_t n =
        send(to, dir.data.get() + dir.begin, want, MSG_NOSIGNAL | MSG_DONTWAIT);
    const int err = n < 0 ? errno : 0;
    const size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
    if (sent < want) SubtractSaturating(counter, want - sent);
    dir.begin += sent;
    dir.written_total += sent;
    if (dir.begin == dir.end) dir.begin = dir.end = 0;
    if (n < 0 && !WouldBlock(err)) return false;
  }
  if (dir.eof && dir.pending() == 0 && !dir.shut) {
    // Errors (the peer already reset) surface on the next read or write.
    (void)shutdown(to, SHUT_WR);
    dir.shut = true;
  }
  return true;
}

void CloseConnection(Connection& c, bool abort) {
  if (abort) {
    AbortFd(c.client_fd);
    AbortFd(c.server_fd);
  } else {
    CloseFd(c.client_fd);
    CloseFd(c.server_fd);
  }
  c.client_fd = c.server_fd = -1;
}

absl::Status ErrnoStatus(int err, const char* what) {
  return absl::ErrnoToStatus(err, absl::StrCat("ByteCountingRelay: ", what));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ByteCountingRelay>> ByteCountingRelay::Start(
    std::string target_host, int target_port, std::chrono::microseconds delay) {
  in_addr target{};
  if (target_host == "localhost") {
    target.s_addr = htonl(INADDR_LOOPBACK);
  } else if (target_host.find('\0') != std::string::npos ||
             inet_pton(AF_INET, target_host.c_str(), &target) != 1 ||
             (ntohl(target.s_addr) >> 24) != 127) {
    return absl::InvalidArgumentError(
        absl::StrCat("ByteCountingRelay: target host \"", target_host,
                     "\" is not an IPv4 loopback address (127.0.0.0/8)"));
  }
  if (delay.count() < 0) {
    return absl::InvalidArgumentError("ByteCountingRelay: negative delay");
  }
  if (target_port < 1 || target_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ByteCountingRelay: target port ", target_port, " is not in 1..65535"));
  }

  int listen_fd =
      socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) return ErrnoStatus(errno, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd, SOMAXCONN) != 0 ||
      getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    CloseFd(listen_fd);
    return ErrnoStatus(err, "listen on 127.0.0.1:0");
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    int err = errno;
    CloseFd(listen_fd);
    return ErrnoStatus(err, "pipe");
  }
  std::unique_ptr<ByteCountingRelay> relay(new ByteCountingRelay(
      listen_fd, ntohs(addr.sin_port), ntohl(target.s_addr), target_port,
      pipe_fds[0], pipe_fds[1]));
  relay->delay_ = delay;
  relay->thread_ = std::thread([r = relay.get()] { r->Run(); });
  return relay;
}

ByteCountingRelay::ByteCountingRelay(int listen_fd, int port,
                                     uint32_t target_ip_host_order,
                                     int target_port, int wake_read_fd,
                                     int wake_write_fd)
    : listen_fd_(listen_fd),
      port_(port),
      target_ip_(target_ip_host_order),
      target_port_(target_port),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd) {}

ByteCountingRelay::~ByteCountingRelay() {
  if (thread_.joinable()) {
    // The loop exits as soon as the read end polls readable; the byte stays
    // there, so there is nothing to lose or retry but EINTR.
    char byte = 0;
    while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  CloseFd(listen_fd_);
  CloseFd(wake_read_fd_);
  CloseFd(wake_write_fd_);
}

std::string ByteCountingRelay::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void ByteCountingRelay::Reset() {
  client_to_server_bytes_.store(0);
  server_to_client_bytes_.store(0);
}

void ByteCountingRelay::Run() {
  std::vector<std::unique_ptr<Connection>> conns;
  std::vector<pollfd> fds;
  bool accept_paused = false;
  std::chrono::steady_clock::time_point accept_resume;

  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_addr.s_addr = htonl(target_ip_);
  target.sin_port = htons(static_cast<uint16_t>(target_port_));

  while (true) {
    int timeout_millis = -1;
    if (accept_paused) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(
          accept_resume - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        accept_paused = false;
      } else {
        timeout_millis = static_cast<int>(left.count());
      }
    }
    // Delayed bytes: wake up when the next ones are due. Those due now are
    // released first, so the poll below asks to write them.
    const Clock::time_point now = Clock::now();
    std::vector<char> released(conns.size(), 0);
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = *conns[i];
      released[i] = (c.upstream.Release(now) ? 1 : 0) |
                    (c.downstream.Release(now) ? 2 : 0);
      for (const Direction* dir : {&c.upstream, &c.downstream}) {
        if (dir->due.empty()) continue;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            dir->due.front().first - now);
        const int millis = static_cast<int>(std::max<int64_t>(left.count(), 0));
        if (timeout_millis < 0 || millis < timeout_millis) {
          timeout_millis = millis;
        }
      }
    }

    // [0] wake pipe, [1] listener, then client and server socket of each
    // connection. An fd with no interest gets -1 so poll() ignores it: poll
    // reports POLLHUP even with events == 0, which would otherwise spin.
    fds.clear();
    fds.push_back({wake_read_fd_, POLLIN, 0});
    fds.push_back({accept_paused ? -1 : listen_fd_, POLLIN, 0});
    for (const auto& c : conns) {
      short client_events = 0, server_events = 0;
      if (c->upstream.WantsRead()) client_events |= POLLIN;
      if (c->downstream.WantsWrite()) client_events |= POLLOUT;
      if (c->connecting) {
        server_events = POLLOUT;
      } else {
        if (c->downstream.WantsRead()) server_events |= POLLIN;
        if (c->upstream.WantsWrite()) server_events |= POLLOUT;
      }
      fds.push_back({client_events ? c->client_fd : -1, client_events, 0});
      fds.push_back({server_events ? c->server_fd : -1, server_events, 0});
    }

    if (poll(fds.data(), fds.size(), timeout_millis) < 0) {
      if (errno == EINTR) continue;
      break;  // EFAULT/EINVAL/ENOMEM: nothing sensible left to do
    }
    if (fds[0].revents != 0) break;  // the destructor asked us to stop

    // Connections first: their pollfd indices match `conns` only until it
    // changes.
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = *conns[i];
      short rc = fds[2 + 2 * i].revents;
      short rs = fds[3 + 2 * i].revents;
      const bool upstream_due = i < released.size() && (released[i] & 1);
      const bool downstream_due = i < released.size() && (released[i] & 2);
      if (rc == 0 && rs == 0 && !upstream_due && !downstream_due) continue;
      bool ok = ((rc | rs) & POLLERR) == 0;
      if (ok && c.connecting && (rs & (POLLOUT | POLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c.server_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
            err != 0) {
          ok = false;
        } else {
          c.connecting = false;
        }
      }
      const bool client_in = rc & (POLLIN | POLLHUP);
      const bool client_out = rc & (POLLOUT | POLLHUP);
      const bool server_in = rs & (POLLIN | POLLHUP);
      const bool server_out = (rs & (POLLOUT | POLLHUP)) || upstream_due;
      if (ok) {
        ok = Pump(c.upstream, c.client_fd, c.connecting ? -1 : c.server_fd,
                  client_in, server_out, delay_, client_to_server_bytes_);
      }
      if (ok && !c.connecting) {
        ok =
            Pump(c.downstream, c.server_fd, c.client_fd, server_in,
                 client_out || downstream_due, delay_, server_to_client_bytes_);
      }
      if (!ok) {
        CloseConnection(c, /*abort=*/true);
      } else if (c.done()) {
        CloseConnection(c, /*abort=*/false);
      }
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(),
                               [](const std::unique_ptr<Connection>& c) {
                                 return c->client_fd < 0;
                               }),
                conns.end());

    if (!accept_paused && fds[1].revents != 0) {
      while (true) {
        int fd =
            accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            // Out of fds or memory: the pending connection stays queued and
            // the listener readable, so retry later instead of spinning.
            accept_paused = true;
            accept_resume = std::chrono::steady_clock::now() + kAcceptRetry;
          }
          break;
        }
        connections_.fetch_add(1);
        SetNoDelay(fd);
        auto c = std::make_unique<Connection>();
        c->client_fd = fd;
        c->server_fd =
            socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->server_fd < 0) {
          CloseConnection(*c, /*abort=*/true);
          continue;
        }
        SetNoDelay(c->server_fd);
        if (connect(c->server_fd, reinterpret_cast<const sockaddr*>(&target),
                    sizeof(target)) != 0) {
          if (errno != EINPROGRESS) {  // e.g. ECONNREFUSED: nobody listening
            CloseConnection(*c, /*abort=*/true);
            continue;
          }
          c->connecting = true;
        }
        conns.push_back(std::move(c));
      }
    }
  }

  for (auto& c : conns) CloseConnection(*c, /*abort=*/false);
}

}  // namespace asap::bench
