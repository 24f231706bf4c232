// ByteCountingRelay: a loopback TCP relay that counts the bytes it forwards.
//
// Benchmarks use it to measure what a gRPC call really puts on the wire (for
// example, to compare compression settings): point the client at the relay
// instead of the server, make the calls, then read the counters. The counts
// are TCP payload bytes: for gRPC, every HTTP/2 frame (HEADERS, DATA and the
// SETTINGS, WINDOW_UPDATE and PING control frames); IP/TCP headers are not
// included.
//
// A byte is counted before the relay hands it to the receiving peer, so once a
// client has its reply (a gRPC call has returned), the bytes of that exchange
// are in the counters: no waiting or polling is needed before reading them.
// While a write is in progress the counters may briefly include bytes the
// kernel has not accepted yet (at most 64 KiB per connection and direction).
//
//   auto relay = asap::bench::ByteCountingRelay::Start("127.0.0.1", port);
//   if (!relay.ok()) return relay.status();
//   auto channel = grpc::CreateChannel((*relay)->address(),
//                                      grpc::InsecureChannelCredentials());
//   ... warm up (connection setup, HTTP/2 preface and settings) ...
//   (*relay)->Reset();
//   ... make the calls to measure ...
//   uint64_t sent = (*relay)->client_to_server_bytes();
//   uint64_t received = (*relay)->server_to_client_bytes();
//
// The relay listens on 127.0.0.1 on a port the kernel picks and forwards every
// accepted connection to one fixed target, which must be an IPv4 loopback
// address (127.0.0.0/8): the relay is a measuring tool, never a way to reach
// other hosts.
//
// Behaviour:
//  - Each direction of each connection has a bounded 64 KiB buffer; when it is
//    full the relay stops reading from the sending side until the receiving
//    side takes data (TCP backpressure), so memory stays bounded whatever the
//    transfer size.
//  - Half-close is propagated: when one side finishes sending (EOF), the relay
//    delivers what it has buffered and then shuts down the write side towards
//    the other peer; the opposite direction keeps flowing.
//  - If the target refuses the connection, or either socket of a connection
//    fails (reset, broken pipe), both sockets of that connection are closed
//    with a reset; other connections and the relay itself are unaffected.
//  - TCP_NODELAY is set on both sockets of every connection, so the relay adds
//    no Nagle delay of its own.
//
// Implementation: one background thread runs a poll() loop over the listener
// and every connection (non-blocking sockets, a self-pipe to wake it up when
// the relay is destroyed). It handles many concurrent connections.
#ifndef ASAP_BENCHMARKS_RELAY_BYTE_COUNTING_RELAY_H_
#define ASAP_BENCHMARKS_RELAY_BYTE_COUNTING_RELAY_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace asap::bench {

class ByteCountingRelay {
 public:
  // Starts listening on 127.0.0.1:0 and forwards every accepted connection to
  // `target_host:target_port`.
  //
  // `target_host` must be an IPv4 loopback address in dotted-quad form
  // ("127.0.0.1", "127.0.0.2", ...) or "localhost" (taken as 127.0.0.1, never
  // resolved). The target is not contacted here: it is connected to once per
  // accepted connection, so it need not be listening yet.
  //
  // Returns InvalidArgument when `target_host` is anything else (another
  // address, IPv6, a host name) or `target_port` is outside 1..65535, and the
  // errno-derived status (e.g. ResourceExhausted for EMFILE) when creating,
  // binding or listening on the socket, or creating the wake-up pipe, fails.
  //
  // With a `delay`, every byte is held that long before it is passed on, in
  // each direction: a network with a round-trip time of twice the delay
  // (bandwidth is at most 64 KiB per delay per connection and direction).
  static absl::StatusOr<std::unique_ptr<ByteCountingRelay>> Start(
      std::string target_host, int target_port,
      std::chrono::microseconds delay = std::chrono::microseconds(0));

  // Stops the relay: closes the listener and every open connection (peers see
  // EOF or a reset) and joins the background thread. Returns promptly even
  // with connections open and data in flight.
  ~ByteCountingRelay();

  ByteCountingRelay(const ByteCountingRelay&) = delete;
  ByteCountingRelay& operator=(const ByteCountingRelay&) = delete;

  // The port the relay listens on (on 127.0.0.1).
  int port() const { return port_; }
  // "127.0.0.1:PORT", usable directly as a gRPC target.
  std::string address() const;

  // Bytes the relay has written to the target (client -> server), summed over
  // all connections, since Start or the last Reset.
  uint64_t client_to_server_bytes() const {
    return client_to_server_bytes_.load();
  }
  // Bytes the relay has written back to clients (server -> client), summed
  // over all connections, since Start or the last Reset.
  uint64_t server_to_client_bytes() const {
    return server_to_client_bytes_.load();
  }
  // Connections accepted since Start (not affected by Reset), including ones
  // whose connection to the target then failed.
  uint64_t connections() const { return connections_.load(); }

  // Sets both byte counters to zero. Bytes forwarded concurrently with the
  // call may land on either side of it.
  void Reset();

 private:
  ByteCountingRelay(int listen_fd, int port, uint32_t target_ip_host_order,
                    int target_port, int wake_read_fd, int wake_write_fd);

  void Run();

  const int listen_fd_;
  const int port_;
  const uint32_t target_ip_;  // host byte order
  const int target_port_;
  const int wake_read_fd_;
  const int wake_write_fd_;
  std::chrono::microseconds delay_{0};

  std::atomic<uint64_t> client_to_server_bytes_{0};
  std::atomic<uint64_t> server_to_client_bytes_{0};
  std::atomic<uint64_t> connections_{0};

  std::thread thread_;
};

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_RELAY_BYTE_COUNTING_RELAY_H_
