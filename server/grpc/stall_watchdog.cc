#include "server/grpc/stall_watchdog.h"

#include <algorithm>

namespace asap {

StallWatchdog::StallWatchdog(absl::Duration timeout)
    : timeout_(timeout), thread_([this] { Run(); }) {}

StallWatchdog::~StallWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool StallWatchdog::Add(Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.insert(stream);
  return !draining_;
}

void StallWatchdog::Remove(Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

void StallWatchdog::DrainAll() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  for (Stream* stream : streams_) stream->Drain();
}

void StallWatchdog::Run() {
  const absl::Duration period = std::min(
      absl::Seconds(1), std::max(timeout_ / 4, absl::Milliseconds(10)));
  absl::MutexLock lock(&mu_);
  auto stopping = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping), period)) {
    absl::Time now = absl::Now();
    // Streams remove themselves under mu_ before they are deleted, so every
    // stream in the set is alive while the lock is held.
    for (Stream* stream : streams_) stream->CancelIfStalled(now, timeout_);
  }
}

}  // namespace asap
