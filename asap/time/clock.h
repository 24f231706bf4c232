// Clock: an injectable source of the current time.
//
// Code that depends on the passage of time (expiry, deadlines, rate limits)
// takes a `const Clock*` instead of calling absl::Now() directly, so tests can
// substitute a FakeClock (asap/time/fake_clock.h) and control time exactly:
//
//   class Cache {
//    public:
//     explicit Cache(const asap::Clock* clock = nullptr)
//         : clock_(clock != nullptr ? clock : &asap::RealClock()) {}
//     bool Expired(absl::Time deadline) const {
//       return clock_->Now() >= deadline;
//     }
//
//    private:
//     const asap::Clock* clock_;
//   };
#ifndef ASAP_TIME_CLOCK_H_
#define ASAP_TIME_CLOCK_H_

#include "absl/time/time.h"

namespace asap {

// A source of the current time. Implementations must be thread-safe: Now() may
// be called concurrently from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // Returns the current time.
  virtual absl::Time Now() const = 0;
};

// Returns the process-wide real clock (absl::Now()). The returned object lives
// for the whole program and is thread-safe.
const Clock& RealClock();

}  // namespace asap

#endif  // ASAP_TIME_CLOCK_H_
