// Per-call options (client/call_options.h) on both bindings, against a real
// server on 127.0.0.1 port 0: the deadline replaces ClientOptions::timeout
// both ways and bounds retries, metadata reaches the handler, bad metadata is
// refused before anything is sent; and wait_for_ready on gRPC targets.
#include "client/call_options.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/free_port.h"
#include "tests/testing/recording_agent.h"
#include "tests/testing/test_client.h"

namespace asap {
namespace {

using ::asap::testing::AsyncAnswer;
using ::asap::testing::CreateTestClient;
using ::asap::testing::EchoedText;
using ::asap::testing::EchoRequest;
using ::asap::testing::PickFreePort;
using ::asap::testing::RecordingAgent;

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(60);

CallOptions WithMetadata() {
  CallOptions call;
  call.metadata = {{"x-tenant", "acme"}, {"x-request-id", "r-1"}};
  return call;
}

v1::Envelope StreamRequest() {
  v1::Envelope request = EchoRequest("");
  request.set_payload_type("echo.stream");
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields.clear();
  fields["text"].set_string_value("streamed");
  fields["steps"].set_number_value(2);
  return request;
}

TEST(ValidateCallOptionsTest, AcceptsTheDefaultsAndOrdinaryMetadata) {
  EXPECT_TRUE(ValidateCallOptions(CallOptions()).ok());
  CallOptions call;
  call.metadata = {{"x-tenant", "acme"},
                   {"x-tenant", "again"},
                   {"trace_id.v2", "a b/c=d"},
                   {"x-empty", ""}};
  EXPECT_TRUE(ValidateCallOptions(call).ok());
}

TEST(ValidateCallOptionsTest, RefusesBadKeys) {
  for (const char* key :
       {"", "X-Tenant", "x tenant", ":path", "x/y", "grpc-timeout",
        "asap-version", "authorization", "content-type", "te", "user-agent",
        "content-encoding", "accept-encoding", "host", "content-length",
        "x-idempotency-key", "x-trace-bin"}) {
    CallOptions call;
    call.metadata = {{key, "v"}};
    absl::Status status = ValidateCallOptions(call);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_NE(status.message().find("CallOptions.metadata[0]"),
              absl::string_view::npos)
        << status;
  }
}

TEST(ValidateCallOptionsTest, RefusesBadValues) {
  for (const char* value : {"a\r\nx-injected: 1", "a\nb", "tab\there", "\x7f",
                            "caf\xc3\xa9", " padded", "padded "}) {
    CallOptions call;
    call.metadata = {{"x-ok", "fine"}, {"x-tenant", value}};
    absl::Status status = ValidateCallOptions(call);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << value;
    EXPECT_NE(status.message().find("CallOptions.metadata[1]"),
              absl::string_view::npos)
        << status;
  }
}

// The behaviours every binding shares, run over gRPC and over HTTP.
class CallOptionsTest : public ::testing::TestWithParam<bool> {
 protected:
  bool http() const { return GetParam(); }

  std::unique_ptr<RecordingAgent> StartAgent(
      RecordingAgent::Options options = {}) {
    std::unique_ptr<RecordingAgent> agent = RecordingAgent::Start(options);
    EXPECT_NE(agent, nullptr);
    return agent;
  }

  ClientOptions OptionsFor(const RecordingAgent& agent) const {
    ClientOptions options;
    options.target = http() ? agent.http_target() : agent.grpc_target();
    options.timeout = absl::Minutes(5);  // no call ends by it here
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(Bindings, CallOptionsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Http" : "Grpc";
                         });

TEST_P(CallOptionsTest, MetadataReachesTheHandler) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  absl::StatusOr<v1::Envelope> response =
      client->Send(EchoRequest("hello"), WithMetadata());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), "hello");
  EXPECT_EQ(agent->last_metadata("x-tenant"), "acme");
  EXPECT_EQ(agent->last_metadata("x-request-id"), "r-1");
}

TEST_P(CallOptionsTest, MetadataOfSendAsyncReachesTheHandler) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  AsyncAnswer answer;
  client->SendAsync(EchoRequest("async"), WithMetadata(), answer.Callback());
  ASSERT_TRUE(answer.WaitFor(kWaitBound));
  ASSERT_TRUE(answer.result().ok()) << answer.result().status();
  EXPECT_EQ(agent->last_metadata("x-tenant"), "acme");
}

TEST_P(CallOptionsTest, MetadataOfSendStreamReachesTheHandler) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  CallOptions stream_call;
  stream_call.metadata = {{"x-tenant", "streamer"}};
  int updates = 0;
  absl::StatusOr<v1::Envelope> final = client->SendStream(
      StreamRequest(), stream_call, [&](const v1::Envelope&) { ++updates; });
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(updates, 2);
  EXPECT_EQ(agent->last_metadata("x-tenant"), "streamer");
}

std::vector<v1::Envelope> EchoBatch(int size) {
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < size; ++i) {
    batch.push_back(EchoRequest(absl::StrCat("batch ", i)));
  }
  return batch;
}

TEST_P(CallOptionsTest, MetadataOfSendBatchReachesEveryEnvelope) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  // More envelopes than one gRPC frame or one HTTP batch array holds.
  constexpr int kEnvelopes = 250;
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(EchoBatch(kEnvelopes), {}, WithMetadata());
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), size_t{kEnvelopes});
  for (int i = 0; i < kEnvelopes; ++i) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(EchoedText(*(*results)[i]), absl::StrCat("batch ", i));
  }
  EXPECT_EQ(agent->calls_with_metadata("x-tenant", "acme"), kEnvelopes);
  EXPECT_EQ(agent->calls_with_metadata("x-request-id", "r-1"), kEnvelopes);
}

TEST_P(CallOptionsTest, SendBatchTakesEitherATimeoutOrADeadline) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  BatchOptions with_timeout;
  with_timeout.timeout = absl::Seconds(30);
  CallOptions with_deadline;
  with_deadline.deadline = absl::Now() + absl::Seconds(30);
  absl::StatusOr<AsapClient::BatchResults> both =
      client->SendBatch(EchoBatch(2), with_timeout, with_deadline);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument)
      << both.status();
  EXPECT_EQ(agent->calls(), 0);
  for (const auto& [options, call] :
       {std::pair(with_timeout, CallOptions()),
        std::pair(BatchOptions(), with_deadline)}) {
    absl::StatusOr<AsapClient::BatchResults> results =
        client->SendBatch(EchoBatch(2), options, call);
    ASSERT_TRUE(results.ok()) << results.status();
    for (const auto& result : *results) EXPECT_TRUE(result.ok());
  }
  EXPECT_EQ(agent->calls(), 4);
}

TEST_P(CallOptionsTest, BadMetadataIsRefusedBeforeSending) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  CallOptions bad_key;
  bad_key.metadata = {{"Authorization", "Bearer stolen"}};
  CallOptions bad_value;
  bad_value.metadata = {{"x-tenant", "acme\r\nx-admin: true"}};
  for (const CallOptions& call : {bad_key, bad_value}) {
    EXPECT_EQ(client->Send(EchoRequest("x"), call).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(
        client->SendStream(StreamRequest(), call, nullptr).status().code(),
        absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(client->GetManifest(call).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(client->SendBatch(EchoBatch(2), {}, call).status().code(),
              absl::StatusCode::kInvalidArgument);
    // SendAsync says so through `done`, on this thread.
    absl::Status async = absl::UnknownError("not run");
    client->SendAsync(
        EchoRequest("x"), call,
        [&](absl::StatusOr<v1::Envelope> r) { async = r.status(); });
    EXPECT_EQ(async.code(), absl::StatusCode::kInvalidArgument) << async;
  }
  EXPECT_EQ(agent->calls(), 0);
  EXPECT_EQ(client->pool_stats().leases, 0u);
}

TEST_P(CallOptionsTest, ShorterDeadlineExpiresBeforeTheTimeout) {
  RecordingAgent::Options held;
  held.hold = true;
  auto agent = StartAgent(held);
  auto client = CreateTestClient(OptionsFor(*agent));
  CallOptions call;
  call.deadline = absl::Now() + absl::Milliseconds(200);
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"), call);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded)
      << response.status();
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kDeadlineExceeded);
  // A batch's deadline ends every envelope still unanswered.
  call.deadline = absl::Now() + absl::Milliseconds(200);
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(EchoBatch(3), {}, call);
  agent->Release();
  ASSERT_TRUE(results.ok()) << results.status();
  for (const auto& result : *results) {
    EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kDeadlineExceeded)
        << result.status();
  }
}

TEST_P(CallOptionsTest, LaterDeadlineOutlivesTheTimeout) {
  // Every handler takes longer than ClientOptions::timeout: only the call's
  // own, later deadline lets the answer in.
  RecordingAgent::Options slow;
  slow.min_duration = absl::Milliseconds(300);
  auto agent = StartAgent(slow);
  ClientOptions options = OptionsFor(*agent);
  options.timeout = absl::Milliseconds(50);
  auto client = CreateTestClient(options);
  CallOptions call;
  call.deadline = absl::Now() + kWaitBound;
  absl::StatusOr<v1::Envelope> response =
      client->Send(EchoRequest("slow"), call);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), "slow");
  if (!http()) {
    // gRPC carries the deadline itself to the handler.
    EXPECT_GT(agent->last_deadline(), absl::Now() + kWaitBound / 2);
  }
  // Without it the same call runs out of time.
  EXPECT_EQ(ErrorCodeOf(client->Send(EchoRequest("slow")).status()),
            ErrorCode::kDeadlineExceeded);
}

TEST_P(CallOptionsTest, DeadlineAlreadyPastFailsWithoutSending) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  CallOptions call;
  call.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(ErrorCodeOf(client->Send(EchoRequest("x"), call).status()),
            ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(ErrorCodeOf(client->GetManifest(call).status()),
            ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(ErrorCodeOf(client->SendBatch(EchoBatch(2), {}, call).status()),
            ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(agent->calls(), 0);
}

TEST_P(CallOptionsTest, GetManifestTakesCallOptionsAndStillUsesTheCache) {
  auto agent = StartAgent();
  auto client = CreateTestClient(OptionsFor(*agent));
  absl::StatusOr<v1::Manifest> fetched = client->GetManifest(WithMetadata());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  absl::StatusOr<v1::Manifest> cached = client->GetManifest(WithMetadata());
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->id(), fetched->id());
  ASSERT_NE(client->manifest_cache(), nullptr);
  EXPECT_EQ(client->manifest_cache()->stats().hits, 1u);
}

TEST_P(CallOptionsTest, RetriesStopAtTheCallDeadline) {
  // Connections are refused; retries would go on for 1000 attempts (more
  // than a second of backoff at the least) but the call's deadline ends
  // them.
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  ClientOptions options;
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  options.target = http() ? "http://" + address : address;
  options.timeout = absl::Minutes(5);
  options.retry.max_retries = 1000;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_backoff = absl::Milliseconds(2);
  options.retry.budget_tokens = 1 << 20;
  options.http.retry.max_retries = 1000;
  options.http.retry.initial_backoff = absl::Milliseconds(1);
  options.http.retry.max_backoff = absl::Milliseconds(2);
  options.http.protocol = HttpProtocol::kHttp1;
  auto client = CreateTestClient(options);
  CallOptions call;
  call.deadline = absl::Now() + absl::Milliseconds(300);
  absl::StatusOr<v1::Envelope> response = client->Send(EchoRequest("x"), call);
  EXPECT_FALSE(response.ok());
  const uint64_t retries =
      http() ? client->http_stats().retries : client->retry_stats().retries;
  EXPECT_GT(retries, 0u);
  EXPECT_LT(retries, 1000u);
}

// A TCP listener on a free port that accepts one connection, closes it and
// stops listening: a target whose first connection attempt fails, and that
// tells the test when it did.
class OneShotListener {
 public:
  OneShotListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
              0);
    EXPECT_EQ(listen(fd_, 16), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length),
              0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      int connection = accept(fd_, nullptr, nullptr);
      if (connection >= 0) close(connection);
      close(fd_);
      accepted_.Notify();
    });
  }
  ~OneShotListener() {
    if (!accepted_.HasBeenNotified()) shutdown(fd_, SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }
  // True once a connection came, was closed, and the port is free again.
  bool WaitForAttempt() {
    return accepted_.WaitForNotificationWithTimeout(kWaitBound);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  absl::Notification accepted_;
  std::thread thread_;
};

std::unique_ptr<AsapClient> GrpcClientFor(int port) {
  ClientOptions options;
  options.target = absl::StrCat("127.0.0.1:", port);
  options.timeout = absl::Minutes(5);
  options.retry.max_retries = 0;  // only wait_for_ready may wait
  return CreateTestClient(options);
}

TEST(WaitForReadyTest, GrpcCallWaitsForTheServerToStart) {
  OneShotListener listener;
  auto client = GrpcClientFor(listener.port());
  CallOptions call;
  call.wait_for_ready = true;
  call.deadline = absl::Now() + kWaitBound;
  AsyncAnswer answer;
  client->SendAsync(EchoRequest("patient"), call, answer.Callback());
  // The call's first connection failed; only now does the agent start.
  ASSERT_TRUE(listener.WaitForAttempt());
  EXPECT_FALSE(answer.done());
  RecordingAgent::Options options;
  options.address = absl::StrCat("127.0.0.1:", listener.port());
  options.http_address = "";
  auto agent = RecordingAgent::Start(options);
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(answer.WaitFor(kWaitBound));
  ASSERT_TRUE(answer.result().ok()) << answer.result().status();
  EXPECT_EQ(EchoedText(*answer.result()), "patient");
}

TEST(WaitForReadyTest, GrpcCallWithoutItFailsAtOnce) {
  OneShotListener listener;
  auto client = GrpcClientFor(listener.port());
  absl::StatusOr<v1::Envelope> result = client->Send(EchoRequest("x"));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
      << result.status();
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnavailable);
}

TEST(WaitForReadyTest, GrpcCallThatNeverConnectsEndsAtItsDeadline) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  auto client = GrpcClientFor(*port);
  CallOptions call;
  call.wait_for_ready = true;
  call.deadline = absl::Now() + absl::Milliseconds(300);
  absl::StatusOr<v1::Envelope> result = client->Send(EchoRequest("x"), call);
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kDeadlineExceeded)
      << result.status();
}

}  // namespace
}  // namespace asap
