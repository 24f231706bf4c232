// A TCP port on 127.0.0.1 that nothing listens on, for tests of connection
// failures and of servers started on a port chosen before they run.
//
//   absl::StatusOr<int> port = asap::testing::PickFreePort();
//   ASSERT_TRUE(port.ok()) << port.status();
//   options.target = absl::StrCat("127.0.0.1:", *port);  // refused for now
#ifndef ASAP_TESTS_TESTING_FREE_PORT_H_
#define ASAP_TESTS_TESTING_FREE_PORT_H_

#include "absl/status/statusor.h"

namespace asap::testing {

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// closed); another process may take it before it is used. An internal error
// when no socket could be bound.
absl::StatusOr<int> PickFreePort();

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_FREE_PORT_H_
