#include "client/channel_pool.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/errors.h"

namespace asap {

absl::Status ValidateChannelPoolOptions(const ChannelPoolOptions& options) {
  if (options.pool_maxsize < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pool_maxsize must be at least 1, got ", options.pool_maxsize));
  }
  if (options.pool_connections < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pool_connections must be at least 1, got ", options.pool_connections));
  }
  if (options.pool_connections > options.pool_maxsize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pool_connections (", options.pool_connections,
        ") must not exceed pool_maxsize (", options.pool_maxsize, ")"));
  }
  if (options.pool_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool_timeout must be positive, got ",
                     absl::FormatDuration(options.pool_timeout)));
  }
  if (options.max_streams_per_connection < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_streams_per_connection must be at least 1, got ",
                     options.max_streams_per_connection));
  }
  if (options.idle_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idle_timeout must not be negative");
  }
  return absl::OkStatus();
}

// Everything a call may touch after the ChannelPool object is gone: leases
// and callers blocked in Acquire hold it by shared_ptr.
struct ChannelPool::State {
  State(ChannelPoolOptions options, ChannelFactory factory)
      : options(std::move(options)), factory(std::move(factory)) {
    slots.resize(this->options.pool_maxsize);
  }

  struct Slot {
    std::shared_ptr<grpc::Channel> channel;  // null: not open
    int in_flight = 0;
    uint64_t generation = 0;
    absl::Time idle_since = absl::InfinitePast();
  };

  void Release(int slot_index, uint64_t generation);
  void CloseIdleLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  const ChannelPoolOptions options;
  const ChannelFactory factory;
  absl::Mutex mu;
  absl::CondVar cv;
  std::vector<Slot> slots ABSL_GUARDED_BY(mu);
  Stats stats ABSL_GUARDED_BY(mu);
  uint64_t next_generation ABSL_GUARDED_BY(mu) = 1;
  bool closed ABSL_GUARDED_BY(mu) = false;
};

ChannelPool::Lease::Lease(std::shared_ptr<State> state, int slot,
                          uint64_t generation,
                          std::shared_ptr<grpc::Channel> channel)
    : state_(std::move(state)),
      slot_(slot),
      generation_(generation),
      channel_(std::move(channel)) {}

ChannelPool::Lease::Lease(Lease&& other) noexcept
    : state_(std::move(other.state_)),
      slot_(other.slot_),
      generation_(other.generation_),
      channel_(std::move(other.channel_)) {}

ChannelPool::Lease& ChannelPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::exchange(other.state_, nullptr);
    slot_ = other.slot_;
    generation_ = other.generation_;
    channel_ = std::move(other.channel_);
  }
  return *this;
}

ChannelPool::Lease::~Lease() { Release(); }

void ChannelPool::Lease::Release() {
  if (state_ == nullptr) return;
  state_->Release(slot_, generation_);
  state_ = nullptr;
}

absl::StatusOr<std::unique_ptr<ChannelPool>> ChannelPool::Create(
    ChannelPoolOptions options, ChannelFactory factory) {
  if (absl::Status status = ValidateChannelPoolOptions(options); !status.ok()) {
    return status;
  }
  if (!factory) return absl::InvalidArgumentError("channel factory is null");
  return std::unique_ptr<ChannelPool>(new ChannelPool(
      std::make_shared<State>(std::move(options), std::move(factory))));
}

ChannelPool::ChannelPool(std::shared_ptr<State> state)
    : state_(std::move(state)) {}

ChannelPool::~ChannelPool() { Close(); }

const ChannelPoolOptions& ChannelPool::options() const {
  return state_->options;
}

absl::StatusOr<ChannelPool::Lease> ChannelPool::Acquire(absl::Time deadline) {
  // A caller waiting here keeps the state alive even if the pool is destroyed
  // meanwhile (its destructor wakes the caller with an error).
  std::shared_ptr<State> state = state_;
  const ChannelPoolOptions& options = state->options;
  absl::MutexLock lock(&state->mu);
  absl::Time now = absl::Now();
  deadline = std::min(deadline, now + options.pool_timeout);
  bool waited = false;
  while (true) {
    if (state->closed) {
      return AsapError(ErrorCode::kCancelled, "the channel pool is closed");
    }
    state->CloseIdleLocked(now);
    std::vector<State::Slot>& slots = state->slots;
    int best = -1;
    int closed = -1;
    for (int i = 0; i < static_cast<int>(slots.size()); ++i) {
      const State::Slot& slot = slots[i];
      if (slot.channel == nullptr) {
        if (closed < 0) closed = i;
        continue;
      }
      if (slot.in_flight < options.max_streams_per_connection &&
          (best < 0 || slot.in_flight < slots[best].in_flight)) {
        best = i;
      }
    }
    if (best < 0 && closed >= 0) {
      // Every open connection is full (or none is open): open one more.
      State::Slot& slot = slots[closed];
      slot.channel = state->factory(closed);
      slot.generation = state->next_generation++;
      slot.in_flight = 0;
      ++state->stats.connections_opened;
      ++state->stats.open_connections;
      best = closed;
    }
    if (best >= 0) {
      State::Slot& slot = slots[best];
      ++slot.in_flight;
      ++state->stats.in_flight;
      ++state->stats.leases;
      return Lease(state, best, slot.generation, slot.channel);
    }
    if (!waited) {
      waited = true;
      ++state->stats.waits;
    }
    if (state->cv.WaitWithDeadline(&state->mu, deadline) ||
        absl::Now() >= deadline) {
      // Re-check once: a stream may have been freed right at the deadline.
      bool free_stream = state->closed;
      for (const State::Slot& slot : slots) {
        free_stream = free_stream || slot.channel == nullptr ||
                      slot.in_flight < options.max_streams_per_connection;
      }
      if (!free_stream) {
        ++state->stats.timeouts;
        return AsapError(
            ErrorCode::kPoolExhausted,
            absl::StrCat("no free connection within pool_timeout (",
                         absl::FormatDuration(options.pool_timeout),
                         "): ", options.pool_maxsize, " connections x ",
                         options.max_streams_per_connection,
                         " streams are all busy"));
      }
    }
    now = absl::Now();
  }
}

void ChannelPool::Close() {
  absl::MutexLock lock(&state_->mu);
  state_->closed = true;
  state_->cv.SignalAll();
}

void ChannelPool::State::Release(int slot_index, uint64_t generation) {
  absl::MutexLock lock(&mu);
  --stats.in_flight;
  Slot& slot = slots[slot_index];
  if (slot.generation == generation && slot.channel != nullptr) {
    --slot.in_flight;
    if (slot.in_flight == 0) slot.idle_since = absl::Now();
  }
  // Every waiter re-checks: whoever finds a free stream takes it, the others
  // wait again. Waking only one could leave a stream free while another
  // waiter that fits sleeps until its deadline.
  cv.SignalAll();
}

void ChannelPool::State::CloseIdleLocked(absl::Time now) {
  if (stats.open_connections <= options.pool_connections) return;
  for (Slot& slot : slots) {
    if (stats.open_connections <= options.pool_connections) return;
    if (slot.channel != nullptr && slot.in_flight == 0 &&
        slot.idle_since + options.idle_timeout <= now) {
      slot.channel.reset();
      slot.generation = next_generation++;
      --stats.open_connections;
      // A closed slot may be opened by a waiter.
      cv.SignalAll();
    }
  }
}

ChannelPool::Stats ChannelPool::stats() const {
  absl::MutexLock lock(&state_->mu);
  return state_->stats;
}

}  // namespace asap
