#include "tests/testing/wait_until.h"

#include "absl/time/clock.h"

namespace asap::testing {

bool WaitUntil(const std::function<bool()>& condition, absl::Duration bound) {
  const absl::Time give_up = absl::Now() + bound;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace asap::testing
