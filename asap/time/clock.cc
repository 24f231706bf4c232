#include "asap/time/clock.h"

#include "absl/time/clock.h"

namespace asap {
namespace {

class RealClockImpl final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

const Clock& RealClock() {
  // Never destroyed, so it stays usable during static destruction.
  static const RealClockImpl* const clock = new RealClockImpl();
  return *clock;
}

}  // namespace asap
