// Test agents: the echo agent with a hook that runs before each answer (a
// pause, a barrier, a counter), so tests can shape handler timing.
#ifndef ASAP_TESTS_TESTING_ECHO_WITH_HOOK_H_
#define ASAP_TESTS_TESTING_ECHO_WITH_HOOK_H_

#include <functional>

#include "server/handler_registry.h"

namespace asap::testing {

// A registry answering "task.request" like the echo agent, after `hook()`.
HandlerRegistry EchoAfter(std::function<void()> hook);

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_ECHO_WITH_HOOK_H_
