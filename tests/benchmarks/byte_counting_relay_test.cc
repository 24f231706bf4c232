// ByteCountingRelay end to end over loopback TCP: a small server in the test
// process (127.0.0.1:0, one thread per connection), the relay in front of it,
// and blocking client sockets.
#include "benchmarks/relay/byte_counting_relay.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace asap::bench {
namespace {

// A socket bound to 127.0.0.1:0, not yet listening; -1 on failure.
int BoundSocket(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A blocking TCP socket connected to 127.0.0.1:port; -1 on failure.
int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads until EOF or an error; returns everything read.
std::string ReadToEof(int fd) {
  std::string out;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Reads exactly `size` bytes (fewer on EOF or error).
std::string ReadExactly(int fd, size_t size) {
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = recv(fd, &out[got], size - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

// `size` pseudo-random bytes, different for each seed.
std::string Pattern(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Echo: writes back everything it reads; half-closes when the client does.
void EchoHandler(int fd) {
  char buf[64 * 1024];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!SendAll(fd, std::string(buf, static_cast<size_t>(n)))) return;
  }
  shutdown(fd, SHUT_WR);
}

// A TCP server on 127.0.0.1:0 running `handler(fd)` on its own thread for each
// accepted connection. Sockets are closed only by the destructor, which first
// shuts every one down so handlers blocked in recv/send return.
class TestServer {
 public:
  explicit TestServer(std::function<void(int)> handler)
      : handler_(std::move(handler)) {
    listen_fd_ = BoundSocket(&port_);
    if (listen_fd_ >= 0 && listen(listen_fd_, SOMAXCONN) == 0) {
      accept_thread_ = std::thread([this] { AcceptLoop(); });
    }
  }

  ~TestServer() {
    if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    if (accept_thread_.joinable()) accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : conn_fds_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : threads_) t.join();
    for (int fd : conn_fds_) close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
  }

  bool ok() const { return accept_thread_.joinable(); }
  int port() const { return port_; }

 private:
  void AcceptLoop() {
    while (true) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      conn_fds_.push_back(fd);
      threads_.emplace_back([this, fd] { handler_(fd); });
    }
  }

  std::function<void(int)> handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<int> conn_fds_;
  std::vector<std::thread> threads_;
};

// Sends `data` through a new connection to `port` (from a second thread, so
// large transfers cannot deadlock), half-closes, and returns what came back
// before EOF. Returns "<connect failed>" if the connection could not be made.
std::string EchoThrough(int port, const std::string& data) {
  int fd = ConnectTo(port);
  if (fd < 0) return "<connect failed>";
  std::thread writer([fd, &data] {
    SendAll(fd, data);
    shutdown(fd, SHUT_WR);
  });
  std::string received = ReadToEof(fd);
  writer.join();
  close(fd);
  return received;
}

// Compares without printing megabytes on failure.
::testing::AssertionResult SameBytes(const std::string& actual,
                                     const std::string& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << actual.size() << " bytes, expected " << expected.size()
         << " (contents differ)";
}

std::unique_ptr<ByteCountingRelay> StartRelay(int target_port) {
  auto relay = ByteCountingRelay::Start("127.0.0.1", target_port);
  EXPECT_TRUE(relay.ok()) << relay.status();
  return relay.ok() ? *std::move(relay) : nullptr;
}

TEST(ByteCountingRelayTest, EchoesThroughAndCountsBothDirections) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(relay->address(), absl::StrCat("127.0.0.1:", relay->port()));

  const std::string data = Pattern(100 * 1000, 1);
  EXPECT_TRUE(SameBytes(EchoThrough(relay->port(), data), data));

  // The client sees EOF only after the relay forwarded (and counted) all.
  EXPECT_EQ(relay->client_to_server_bytes(), data.size());
  EXPECT_EQ(relay->server_to_client_bytes(), data.size());
  EXPECT_EQ(relay->connections(), 1u);
}

TEST(ByteCountingRelayTest, CountsBytesBeforeThePeerReceivesThem) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  int fd = ConnectTo(relay->port());
  ASSERT_GE(fd, 0);
  // No EOF and no waiting: as soon as the reply is in, it has been counted.
  for (uint64_t round = 1; round <= 100; ++round) {
    ASSERT_TRUE(SendAll(fd, "ping"));
    ASSERT_EQ(ReadExactly(fd, 4), "ping");
    EXPECT_EQ(relay->client_to_server_bytes(), 4 * round);
    EXPECT_EQ(relay->server_to_client_bytes(), 4 * round);
  }
  close(fd);
}

TEST(ByteCountingRelayTest, ManyConcurrentConnectionsEchoCorrectly) {
  constexpr int kClients = 100;
  constexpr size_t kBytes = 100 * 1000;
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  std::vector<std::string> sent(kClients), received(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    sent[i] = Pattern(kBytes, 100 + i);
    clients.emplace_back(
        [&, i] { received[i] = EchoThrough(relay->port(), sent[i]); });
  }
  for (std::thread& t : clients) t.join();

  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(SameBytes(received[i], sent[i])) << "client " << i;
  }
  EXPECT_EQ(relay->client_to_server_bytes(), kClients * kBytes);
  EXPECT_EQ(relay->server_to_client_bytes(), kClients * kBytes);
  EXPECT_EQ(relay->connections(), static_cast<uint64_t>(kClients));
}

TEST(ByteCountingRelayTest, LargeTransferPassesThroughBoundedBuffers) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  // Far more than the relay's 64 KiB per-direction buffers.
  const std::string data = Pattern(10 * 1000 * 1000, 7);
  EXPECT_TRUE(SameBytes(EchoThrough(relay->port(), data), data));
  EXPECT_EQ(relay->client_to_server_bytes(), data.size());
  EXPECT_EQ(relay->server_to_client_bytes(), data.size());
}

TEST(ByteCountingRelayTest, DelayHoldsEveryByteBothWays) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  constexpr auto kDelay = std::chrono::milliseconds(20);
  auto relay = ByteCountingRelay::Start("127.0.0.1", server.port(), kDelay);
  ASSERT_TRUE(relay.ok()) << relay.status();
  int fd = ConnectTo((*relay)->port());
  ASSERT_GE(fd, 0);
  for (int round = 0; round < 3; ++round) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(SendAll(fd, "ping"));
    ASSERT_EQ(ReadExactly(fd, 4), "ping");
    // There and back: at least twice the delay (a lower bound, not a
    // measurement).
    EXPECT_GE(std::chrono::steady_clock::now() - start, 2 * kDelay);
  }
  close(fd);
  // Bulk data still arrives intact, through the bounded buffers.
  const std::string data = Pattern(1000 * 1000, 9);
  EXPECT_TRUE(SameBytes(EchoThrough((*relay)->port(), data), data));
  EXPECT_FALSE(ByteCountingRelay::Start("127.0.0.1", server.port(),
                                        std::chrono::microseconds(-1))
                   .ok());
}

TEST(ByteCountingRelayTest, ResetZeroesByteCountersOnly) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  ASSERT_EQ(EchoThrough(relay->port(), "first"), "first");
  ASSERT_EQ(relay->client_to_server_bytes(), 5u);

  relay->Reset();
  EXPECT_EQ(relay->client_to_server_bytes(), 0u);
  EXPECT_EQ(relay->server_to_client_bytes(), 0u);
  EXPECT_EQ(relay->connections(), 1u);

  ASSERT_EQ(EchoThrough(relay->port(), "second!"), "second!");
  EXPECT_EQ(relay->client_to_server_bytes(), 7u);
  EXPECT_EQ(relay->server_to_client_bytes(), 7u);
  EXPECT_EQ(relay->connections(), 2u);
}

TEST(ByteCountingRelayTest, RejectsTargetsOutsideIpv4Loopback) {
  for (const char* host :
       {"10.0.0.1", "example.com", "0.0.0.0", "128.0.0.1", "126.255.255.255",
        "::1", "[::1]", "127.1", " 127.0.0.1", "127.0.0.1:80", "",
        "localhost.example.com"}) {
    auto relay = ByteCountingRelay::Start(host, 80);
    EXPECT_EQ(relay.status().code(), absl::StatusCode::kInvalidArgument)
        << "host \"" << host << "\": " << relay.status();
  }
  auto embedded_nul =
      ByteCountingRelay::Start(std::string("127.0.0.1\0x", 11), 80);
  EXPECT_EQ(embedded_nul.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ByteCountingRelayTest, RejectsPortsOutOfRange) {
  for (int port : {0, -1, 65536}) {
    auto relay = ByteCountingRelay::Start("127.0.0.1", port);
    EXPECT_EQ(relay.status().code(), absl::StatusCode::kInvalidArgument)
        << "port " << port << ": " << relay.status();
  }
}

TEST(ByteCountingRelayTest, AcceptsLoopbackTargets) {
  // The target need not be listening: Start never contacts it.
  for (const char* host :
       {"127.0.0.1", "127.1.2.3", "127.255.255.254", "localhost"}) {
    auto relay = ByteCountingRelay::Start(host, 65535);
    EXPECT_TRUE(relay.ok()) << "host \"" << host << "\": " << relay.status();
  }
}

TEST(ByteCountingRelayTest, ClosesClientWhenTargetIsNotListening) {
  // Bound but not listening: connecting to it is refused, and holding it keeps
  // anyone else from taking the port during the test.
  int target_port = 0;
  int target_fd = BoundSocket(&target_port);
  ASSERT_GE(target_fd, 0);
  auto relay = StartRelay(target_port);
  ASSERT_NE(relay, nullptr);

  for (int attempt = 1; attempt <= 2; ++attempt) {
    int fd = ConnectTo(relay->port());
    ASSERT_GE(fd, 0);
    char byte;
    ssize_t n;
    do {
      n = recv(fd, &byte, 1, 0);
    } while (n < 0 && errno == EINTR);
    EXPECT_LE(n, 0) << "attempt " << attempt;  // EOF or reset, never data
    close(fd);
  }
  // Still alive and counting.
  EXPECT_EQ(relay->connections(), 2u);
  EXPECT_EQ(relay->client_to_server_bytes(), 0u);
  EXPECT_EQ(relay->server_to_client_bytes(), 0u);
  close(target_fd);
}

TEST(ByteCountingRelayTest, ClientHalfCloseReachesServer) {
  // Replies only once the client has finished sending.
  TestServer server([](int fd) {
    std::string request = ReadToEof(fd);
    SendAll(fd, absl::StrCat("got ", request.size()));
    shutdown(fd, SHUT_WR);
  });
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  int fd = ConnectTo(relay->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "twelve bytes"));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  EXPECT_EQ(ReadToEof(fd), "got 12");
  close(fd);
}

TEST(ByteCountingRelayTest, ServerHalfCloseKeepsClientDirectionOpen) {
  std::promise<std::string> server_received;
  TestServer server([&server_received](int fd) {
    SendAll(fd, "hello");
    shutdown(fd, SHUT_WR);
    server_received.set_value(ReadToEof(fd));
  });
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  int fd = ConnectTo(relay->port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadToEof(fd), "hello");  // EOF forwarded from the server
  ASSERT_TRUE(SendAll(fd, "still open"));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  EXPECT_EQ(server_received.get_future().get(), "still open");
  close(fd);
}

TEST(ByteCountingRelayTest, DestroyClosesIdleConnections) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    int fd = ConnectTo(relay->port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    // A round trip proves the connection reaches the server.
    ASSERT_TRUE(SendAll(fd, "ping"));
    ASSERT_EQ(ReadExactly(fd, 4), "ping");
  }

  relay.reset();  // must return although every connection is still open

  for (int fd : fds) {
    EXPECT_EQ(ReadToEof(fd), "");
    close(fd);
  }
}

TEST(ByteCountingRelayTest, DestroyReturnsWithStalledTransfers) {
  TestServer server(EchoHandler);
  ASSERT_TRUE(server.ok());
  auto relay = StartRelay(server.port());
  ASSERT_NE(relay, nullptr);

  // The client writes without reading the echo until every buffer on the way
  // (its own, the relay's, the server's) is full: sending would block and
  // stays blocked for a while. The wait only decides when to stop filling.
  int fd = ConnectTo(relay->port());
  ASSERT_GE(fd, 0);
  const std::string chunk = Pattern(64 * 1024, 3);
  size_t sent = 0;
  while (true) {
    ssize_t n =
        send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        << "send failed: errno " << errno;
    pollfd pfd = {fd, POLLOUT, 0};
    if (poll(&pfd, 1, /*timeout=*/200) == 0) break;  // stalled
  }
  ASSERT_GT(sent, 0u);

  relay.reset();  // must return with data stuck in both directions

  // Whatever was echoed before the relay went away, then EOF or a reset.
  EXPECT_LE(ReadToEof(fd).size(), sent);
  close(fd);
}

}  // namespace
}  // namespace asap::bench
