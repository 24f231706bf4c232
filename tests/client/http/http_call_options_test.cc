// Per-call options on http:// targets (client/call_options.h), where the
// HTTP transport implements them itself: wait_for_ready retries connection
// failures until the deadline, and metadata travel as request headers. The
// behaviours shared with gRPC are in tests/client/call_options_test.cc.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "client/call_options.h"
#include "gtest/gtest.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/free_port.h"
#include "tests/testing/recording_agent.h"
#include "tests/testing/test_client.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

using ::asap::testing::EchoedText;
using ::asap::testing::EchoRequest;
using ::asap::testing::RecordingAgent;

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(60);

// A client of http://127.0.0.1:port that does not retry by itself, so that
// only wait_for_ready makes it try again.
std::unique_ptr<AsapClient> ClientFor(int port) {
  ClientOptions options;
  options.target = absl::StrCat("http://127.0.0.1:", port);
  options.timeout = absl::Minutes(5);
  options.http.protocol = HttpProtocol::kHttp1;
  options.http.retry.max_retries = 0;
  options.http.retry.initial_backoff = absl::Milliseconds(10);
  options.http.retry.max_backoff = absl::Milliseconds(50);
  return testing::CreateTestClient(std::move(options));
}

TEST(HttpWaitForReadyTest, RetriesConnectionFailuresUntilTheServerStarts) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  auto client = ClientFor(*port);
  CallOptions call;
  call.wait_for_ready = true;
  call.deadline = absl::Now() + kWaitBound;
  testing::AsyncAnswer answer;
  client->SendAsync(EchoRequest("patient"), call, answer.Callback());
  // The call's first attempt was refused; only now does the agent start.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        AsapClient::HttpStats stats = client->http_stats();
        return !stats.urls.empty() && stats.urls[0].failures >= 1;
      },
      kWaitBound));
  EXPECT_FALSE(answer.done());
  RecordingAgent::Options options;
  options.http_address = absl::StrCat("127.0.0.1:", *port);
  auto agent = RecordingAgent::Start(options);
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(answer.WaitFor(kWaitBound));
  ASSERT_TRUE(answer.result().ok()) << answer.result().status();
  EXPECT_EQ(EchoedText(*answer.result()), "patient");
  EXPECT_GE(client->http_stats().retries, 1u);
}

TEST(HttpWaitForReadyTest, WithoutItAConnectionFailureIsUnavailable) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  auto client = ClientFor(*port);
  absl::StatusOr<v1::Envelope> result = client->Send(EchoRequest("x"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
      << result.status();
  EXPECT_EQ(client->http_stats().retries, 0u);
}

TEST(HttpWaitForReadyTest, NoConnectionBeforeTheDeadlineIsDeadlineExceeded) {
  absl::StatusOr<int> port = testing::PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  auto client = ClientFor(*port);
  CallOptions call;
  call.wait_for_ready = true;
  call.deadline = absl::Now() + absl::Milliseconds(300);
  absl::StatusOr<v1::Envelope> result = client->Send(EchoRequest("x"), call);
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kDeadlineExceeded)
      << result.status();
  EXPECT_NE(result.status().message().find("wait_for_ready"),
            absl::string_view::npos)
      << result.status();
}

TEST(HttpCallMetadataTest, TravelAsHeadersEmptyValuesIncluded) {
  auto agent = RecordingAgent::Start();
  ASSERT_NE(agent, nullptr);
  ClientOptions options;
  options.target = agent->http_target();
  auto client = *AsapClient::Create(options);
  CallOptions call;
  call.metadata = {{"x-tenant", "acme"}, {"x-empty", ""}};
  ASSERT_TRUE(client->Send(EchoRequest("x"), call).ok());
  EXPECT_EQ(agent->last_metadata("x-tenant"), "acme");
  EXPECT_EQ(agent->last_metadata("x-empty"), "");
}

}  // namespace
}  // namespace asap
