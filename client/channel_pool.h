// ChannelPool: a pool of gRPC channels to one target, each its own TCP
// connection, shared by every call of an AsapClient.
//
// gRPC multiplexes many calls over one HTTP/2 connection, but one connection is
// one TCP stream, one flow-control window and (on the server) one reader
// thread. The pool spreads calls over up to `pool_maxsize` connections: a call
// goes to the least loaded connection that has a free stream; connections are
// opened lazily as concurrency grows and reused afterwards; when every
// connection is at `max_streams_per_connection`, a call waits up to
// `pool_timeout` and then fails with asap:transport/pool_exhausted. For a
// target with several addresses, "connection" above means one channel: it
// holds a TCP connection to each address and balances its calls over them.
//
//   asap::ChannelPoolOptions options;     // defaults: 100, 100, 5 s
//   absl::StatusOr<std::unique_ptr<asap::ChannelPool>> pool =
//       asap::ChannelPool::Create(options, channel_factory);
//   absl::StatusOr<asap::ChannelPool::Lease> lease = (*pool)->Acquire();
//   if (!lease.ok()) return lease.status();      // pool exhausted
//   auto stub = asap::v1::AsapService::NewStub(lease->channel());
//   ... // the call; the lease returns the stream to the pool when destroyed
//
// A channel is never replaced because a call on it failed: when its peer is
// unreachable gRPC reconnects by itself with exponential backoff
// (CreateAsapChannel), while a fresh channel per failure would make every
// call a new connection attempt to a dead peer. Each channel balances its
// calls over all the target's addresses (see CreateAsapChannel).
#ifndef ASAP_CLIENT_CHANNEL_POOL_H_
#define ASAP_CLIENT_CHANNEL_POOL_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace asap {

struct ChannelPoolOptions {
  // Connections kept open when idle. Connections above this number are closed
  // after `idle_timeout` without calls. 1 to pool_maxsize.
  int pool_connections = 100;
  // Most connections (TCP connections) to the target. >= 1.
  int pool_maxsize = 100;
  // Longest a call waits for a free stream when every connection is full.
  // > 0.
  absl::Duration pool_timeout = absl::Seconds(5);
  // Calls carried at once by one connection before the pool opens another (or
  // makes callers wait). 100 is HTTP/2's usual SETTINGS_MAX_CONCURRENT_STREAMS
  // floor. >= 1.
  int max_streams_per_connection = 100;
  // How long a connection above pool_connections may stay idle.
  absl::Duration idle_timeout = absl::Seconds(5);
};

// Checks the options; InvalidArgument naming the bad field otherwise.
absl::Status ValidateChannelPoolOptions(const ChannelPoolOptions& options);

class ChannelPool {
 public:
  // Makes the channel for slot `index`. Channels of different slots must not
  // share a connection (see CreateAsapChannel).
  using ChannelFactory =
      std::function<std::shared_ptr<grpc::Channel>(int index)>;

  // The pool's slots and counters, shared with the leases it hands out.
  struct State;

  // A stream on one pooled connection, held for the duration of one call.
  // Movable; returns the stream to the pool when destroyed. A lease may
  // outlive its ChannelPool: it keeps the pool's bookkeeping alive, so a call
  // that finishes after the pool is gone still returns its stream safely.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
    // Does nothing: kept for callers written when a failed call replaced its
    // channel. gRPC's own reconnection (with backoff) now repairs a broken
    // connection, so the channel stays in the pool.
    void ReportFailure() {}

   private:
    friend class ChannelPool;
    Lease(std::shared_ptr<State> state, int slot, uint64_t generation,
          std::shared_ptr<grpc::Channel> channel);
    void Release();

    std::shared_ptr<State> state_;  // null once moved from
    int slot_;
    uint64_t generation_;
    std::shared_ptr<grpc::Channel> channel_;
  };

  // Counters for tests and benchmarks.
  struct Stats {
    int open_connections = 0;           // channels currently in the pool
    uint64_t connections_opened = 0;    // channels ever created
    uint64_t connections_replaced = 0;  // always 0 (see Lease::ReportFailure)
    uint64_t leases = 0;                // calls served
    uint64_t waits = 0;                 // calls that had to wait for capacity
    uint64_t timeouts = 0;              // calls that failed with pool_exhausted
    int in_flight = 0;
  };

  // InvalidArgument when the options are invalid.
  static absl::StatusOr<std::unique_ptr<ChannelPool>> Create(
      ChannelPoolOptions options, ChannelFactory factory);

  // Closes the pool (see Close()).
  ~ChannelPool();
  ChannelPool(const ChannelPool&) = delete;
  ChannelPool& operator=(const ChannelPool&) = delete;

  // A stream on the least loaded connection. Opens a connection when all open
  // ones are full and fewer than pool_maxsize exist; otherwise waits up to
  // pool_timeout (or until `deadline`, if earlier) for one to free up, then
  // returns asap:transport/pool_exhausted. Returns asap:transport/cancelled
  // once the pool is closed. Thread-safe.
  absl::StatusOr<Lease> Acquire(absl::Time deadline = absl::InfiniteFuture());

  // Fails every Acquire waiting for a stream, and every later one, with
  // asap:transport/cancelled, so that the owner can shut down without waiting
  // out pool_timeout. Leases already handed out stay valid. Idempotent.
  void Close();

  Stats stats() const;
  const ChannelPoolOptions& options() const;

 private:
  explicit ChannelPool(std::shared_ptr<State> state);

  const std::shared_ptr<State> state_;
};

}  // namespace asap

#endif  // ASAP_CLIENT_CHANNEL_POOL_H_
