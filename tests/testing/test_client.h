// Creating an AsapClient in a test, and waiting for its asynchronous calls.
//
//   std::unique_ptr<AsapClient> client = asap::testing::CreateTestClient(
//       asap::testing::ShortBackoffOptions(url, absl::Milliseconds(10)));
//   ASSERT_NE(client, nullptr);
//   asap::testing::AsyncAnswer answer;
//   client->SendAsync(request, answer.Callback());
//   ASSERT_TRUE(answer.WaitFor(absl::Seconds(30)));
//   ASSERT_TRUE(answer.result().ok()) << answer.result().status();
#ifndef ASAP_TESTS_TESTING_TEST_CLIENT_H_
#define ASAP_TESTS_TESTING_TEST_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "asap/v1/envelope.pb.h"
#include "client/asap_client.h"

namespace asap::testing {

// The created client; null, with a test failure recorded, when `options`
// are refused.
std::unique_ptr<AsapClient> CreateTestClient(ClientOptions options);

// Options for `target` with a 20 s timeout and HTTP retries after
// `initial_backoff`, backing off up to ten times that: tests wait for
// retries, not for the defaults.
ClientOptions ShortBackoffOptions(const std::string& target,
                                  absl::Duration initial_backoff);

// The answer of one AsapClient::SendAsync call, for the test to wait for.
// The callback shares the answer's state, so it may still run after the test
// gave up waiting and the AsyncAnswer is gone.
class AsyncAnswer {
 public:
  AsyncAnswer() : state_(std::make_shared<State>()) {}

  // The `done` argument of the one SendAsync call this answer is for.
  std::function<void(absl::StatusOr<v1::Envelope>)> Callback() const;

  // Whether the callback has run.
  bool done() const { return state_->done.HasBeenNotified(); }

  // Waits at most `bound` (a deadlock guard) for the callback; whether it
  // ran.
  bool WaitFor(absl::Duration bound) const {
    return state_->done.WaitForNotificationWithTimeout(bound);
  }

  // What the callback was given: read it once done() or WaitFor is true.
  // UnknownError("not run") before.
  const absl::StatusOr<v1::Envelope>& result() const { return state_->result; }

 private:
  struct State {
    absl::Notification done;
    absl::StatusOr<v1::Envelope> result = absl::UnknownError("not run");
  };
  std::shared_ptr<State> state_;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_TEST_CLIENT_H_
