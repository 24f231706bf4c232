// FakeClock: a manually driven Clock for tests.
//
// Time stands still until the test moves it, so expiry can be tested exactly
// and without sleeping:
//
//   asap::FakeClock clock;                    // starts at absl::UnixEpoch()
//   absl::Time start = clock.Now();
//   clock.Advance(absl::Minutes(5));
//   // clock.Now() == start + absl::Minutes(5)
//
// Thread-safe: Now(), Advance() and Set() may be called from any thread.
#ifndef ASAP_TIME_FAKE_CLOCK_H_
#define ASAP_TIME_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/time/clock.h"

namespace asap {

class FakeClock final : public Clock {
 public:
  // Creates a clock that reads `start` until it is advanced or set.
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}

  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  // Returns the clock's current (fake) time.
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Moves the clock by `delta`. A negative `delta` moves it backwards.
  void Advance(absl::Duration delta) {
    absl::MutexLock lock(&mu_);
    now_ += delta;
  }

  // Sets the clock to `now`, which may be earlier than the current time.
  void Set(absl::Time now) {
    absl::MutexLock lock(&mu_);
    now_ = now;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asap

#endif  // ASAP_TIME_FAKE_CLOCK_H_
