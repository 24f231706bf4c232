#include "tests/testing/echo_with_hook.h"

#include <utility>

#include "tests/testing/echo_requests.h"

namespace asap::testing {

HandlerRegistry EchoAfter(std::function<void()> hook) {
  HandlerRegistry handlers;
  // A fresh registry accepts its first handler.
  handlers
      .Register("task.request",
                [hook = std::move(hook)](const v1::Envelope& request,
                                         const v1::Manifest& manifest) {
                  hook();
                  return asap::EchoTask(request, manifest);
                })
      .IgnoreError();
  return handlers;
}

}  // namespace asap::testing
