#include "tests/testing/test_client.h"

#include <utility>

#include "gtest/gtest.h"

namespace asap::testing {

std::unique_ptr<AsapClient> CreateTestClient(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

ClientOptions ShortBackoffOptions(const std::string& target,
                                  absl::Duration initial_backoff) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(20);
  options.http.retry.initial_backoff = initial_backoff;
  options.http.retry.max_backoff = 10 * initial_backoff;
  return options;
}

std::function<void(absl::StatusOr<v1::Envelope>)> AsyncAnswer::Callback()
    const {
  return [state = state_](absl::StatusOr<v1::Envelope> result) {
    state->result = std::move(result);
    state->done.Notify();
  };
}

}  // namespace asap::testing
