#include "client/channel_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
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

ChannelPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      slot_(other.slot_),
      generation_(other.generation_),
      channel_(std::move(other.channel_)),
      failed_(other.failed_) {}

ChannelPool::Lease& ChannelPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr) pool_->Release(slot_, generation_, failed_);
    pool_ = std::exchange(other.pool_, nullptr);
    slot_ = other.slot_;
    generation_ = other.generation_;
    channel_ = std::move(other.channel_);
    failed_ = other.failed_;
  }
  return *this;
}

ChannelPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(slot_, generation_, failed_);
}

absl::StatusOr<std::unique_ptr<ChannelPool>> ChannelPool::Create(
    ChannelPoolOptions options, ChannelFactory factory) {
  if (absl::Status status = ValidateChannelPoolOptions(options); !status.ok()) {
    return status;
  }
  if (!factory) return absl::InvalidArgumentError("channel factory is null");
  return std::unique_ptr<ChannelPool>(
      new ChannelPool(std::move(options), std::move(factory)));
}

ChannelPool::ChannelPool(ChannelPoolOptions options, ChannelFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  slots_.resize(options_.pool_maxsize);
}

absl::StatusOr<ChannelPool::Lease> ChannelPool::Acquire(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  absl::Time now = absl::Now();
  deadline = std::min(deadline, now + options_.pool_timeout);
  bool waited = false;
  while (true) {
    CloseIdleLocked(now);
    int best = -1;
    int closed = -1;
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
      const Slot& slot = slots_[i];
      if (slot.channel == nullptr) {
        if (closed < 0) closed = i;
        continue;
      }
      if (slot.in_flight < options_.max_streams_per_connection &&
          (best < 0 || slot.in_flight < slots_[best].in_flight)) {
        best = i;
      }
    }
    if (best < 0 && closed >= 0) {
      // Every open connection is full (or none is open): open one more.
      Slot& slot = slots_[closed];
      slot.channel = factory_(closed);
      slot.generation = next_generation_++;
      slot.in_flight = 0;
      ++stats_.connections_opened;
      ++stats_.open_connections;
      best = closed;
    }
    if (best >= 0) {
      Slot& slot = slots_[best];
      ++slot.in_flight;
      ++stats_.in_flight;
      ++stats_.leases;
      return Lease(this, best, slot.generation, slot.channel);
    }
    if (!waited) {
      waited = true;
      ++stats_.waits;
    }
    if (cv_.WaitWithDeadline(&mu_, deadline) || absl::Now() >= deadline) {
      // Re-check once: a stream may have been freed right at the deadline.
      bool free_stream = false;
      for (const Slot& slot : slots_) {
        free_stream = free_stream || slot.channel == nullptr ||
                      slot.in_flight < options_.max_streams_per_connection;
      }
      if (!free_stream) {
        ++stats_.timeouts;
        return AsapError(
            ErrorCode::kPoolExhausted,
            absl::StrCat("no free connection within pool_timeout (",
                         absl::FormatDuration(options_.pool_timeout),
                         "): ", options_.pool_maxsize, " connections x ",
                         options_.max_streams_per_connection,
                         " streams are all busy"));
      }
    }
    now = absl::Now();
  }
}

void ChannelPool::Release(int slot_index, uint64_t generation, bool failed) {
  absl::MutexLock lock(&mu_);
  --stats_.in_flight;
  Slot& slot = slots_[slot_index];
  if (slot.generation != generation || slot.channel == nullptr) {
    cv_.Signal();
    return;  // The connection was replaced while this call ran.
  }
  --slot.in_flight;
  if (failed) {
    // Drop the broken connection: calls still running on it finish on their
    // own reference; the next Acquire opens a fresh one in this slot.
    slot.channel.reset();
    slot.in_flight = 0;
    slot.generation = next_generation_++;
    --stats_.open_connections;
    ++stats_.connections_replaced;
  } else if (slot.in_flight == 0) {
    slot.idle_since = absl::Now();
  }
  cv_.Signal();
}

void ChannelPool::CloseIdleLocked(absl::Time now) {
  if (stats_.open_connections <= options_.pool_connections) return;
  for (Slot& slot : slots_) {
    if (stats_.open_connections <= options_.pool_connections) return;
    if (slot.channel != nullptr && slot.in_flight == 0 &&
        slot.idle_since + options_.idle_timeout <= now) {
      slot.channel.reset();
      slot.generation = next_generation_++;
      --stats_.open_connections;
    }
  }
}

ChannelPool::Stats ChannelPool::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace asap
