// Waiting in a test for something another thread does: polls a condition
// until it holds, within a bound that is a deadlock guard, not a timing
// threshold (a test never expects the bound to pass).
//
//   ASSERT_TRUE(asap::testing::WaitUntil([&] { return stats().waits == 1; }));
#ifndef ASAP_TESTS_TESTING_WAIT_UNTIL_H_
#define ASAP_TESTS_TESTING_WAIT_UNTIL_H_

#include <functional>

#include "absl/time/time.h"

namespace asap::testing {

// Polls `condition` (every millisecond) until it returns true; false once
// `bound` has passed without it.
bool WaitUntil(const std::function<bool()>& condition,
               absl::Duration bound = absl::Seconds(30));

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_WAIT_UNTIL_H_
