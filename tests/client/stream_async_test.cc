// AsapClient::SendStreamAsync on both bindings, against a real server on
// 127.0.0.1 port 0: intermediates in order and then `done` exactly once,
// errors before the call on the calling thread, a handler's error after its
// intermediates, many streams from one thread, a stream started from a
// callback, retries while nothing arrived, and a client destroyed while a
// stream is held open.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "server/echo_skill.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/free_port.h"
#include "tests/testing/recording_agent.h"
#include "tests/testing/test_client.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

using ::asap::testing::CreateTestClient;
using ::asap::testing::EchoRequest;
using ::asap::testing::PickFreePort;
using ::asap::testing::RecordingAgent;

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(60);

v1::Envelope StreamRequest(int steps, const std::string& type = "echo.stream") {
  v1::Envelope request = EchoRequest("");
  request.set_payload_type(type);
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields.clear();
  fields["text"].set_string_value("streamed");
  fields["steps"].set_number_value(steps);
  return request;
}

// What one SendStreamAsync call delivered, in order: "update <percent>" per
// intermediate, then "done"; and what `done` was given.
class StreamRecord {
 public:
  AsapClient::IntermediateCallback OnIntermediate() {
    return [this](const v1::Envelope& envelope) {
      absl::MutexLock lock(&mu_);
      events_.push_back(absl::StrCat(envelope.payload_type(), " ",
                                     envelope.payload()
                                         .fields()
                                         .at("progress")
                                         .struct_value()
                                         .fields()
                                         .at("percent")
                                         .number_value()));
    };
  }
  AsapClient::SendCallback Done() {
    return [this](absl::StatusOr<v1::Envelope> result) {
      {
        absl::MutexLock lock(&mu_);
        events_.push_back("done");
        result_ = std::move(result);
        ++done_calls_;
      }
      if (!finished_.HasBeenNotified()) finished_.Notify();
    };
  }
  bool Wait() { return finished_.WaitForNotificationWithTimeout(kWaitBound); }
  bool finished() const { return finished_.HasBeenNotified(); }
  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  absl::StatusOr<v1::Envelope> result() const {
    absl::MutexLock lock(&mu_);
    return result_;
  }
  int done_calls() const {
    absl::MutexLock lock(&mu_);
    return done_calls_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<v1::Envelope> result_ ABSL_GUARDED_BY(mu_) =
      absl::UnknownError("not run");
  int done_calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification finished_;
};

// The echo agent, plus "fail.stream": one intermediate, then an error.
HandlerRegistry HandlersWithAFailingStream() {
  HandlerRegistry handlers = EchoHandlers();
  auto fail = [](const v1::Envelope& request, const HandlerContext& context,
                 const StreamEmit& emit) -> absl::StatusOr<v1::Envelope> {
    v1::Envelope update;
    update.set_payload_type("task.update");
    auto& fields = *update.mutable_payload()->mutable_fields();
    fields["task_id"].set_string_value("t-1");
    fields["update_type"].set_string_value("progress");
    fields["status"].set_string_value("working");
    (*fields["progress"].mutable_struct_value()->mutable_fields())["percent"]
        .set_number_value(50);
    emit(std::move(update));
    return AsapError(ErrorCode::kInvalidState, "the task cannot go on");
  };
  EXPECT_TRUE(handlers.RegisterStreaming("fail.stream", fail).ok());
  return handlers;
}

class StreamAsyncTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    server_ = testing::StartTestServer(HandlersWithAFailingStream(),
                                       std::move(options));
    ASSERT_NE(server_, nullptr);
  }
  bool http() const { return GetParam(); }
  std::string target() const {
    return http() ? absl::StrCat("http://", server_->http_address())
                  : server_->address();
  }
  std::unique_ptr<AsapClient> Client() {
    ClientOptions options;
    options.target = target();
    options.timeout = kWaitBound;
    return CreateTestClient(std::move(options));
  }
  std::unique_ptr<AsapServer> server_;
};

INSTANTIATE_TEST_SUITE_P(Bindings, StreamAsyncTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Http" : "Grpc";
                         });

TEST_P(StreamAsyncTest, IntermediatesArriveInOrderThenDoneOnce) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  StreamRecord record;
  client->SendStreamAsync(StreamRequest(4), record.OnIntermediate(),
                          record.Done());
  ASSERT_TRUE(record.Wait());
  EXPECT_EQ(record.events(), (std::vector<std::string>{
                                 "task.update 25", "task.update 50",
                                 "task.update 75", "task.update 100", "done"}));
  absl::StatusOr<v1::Envelope> final = record.result();
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->payload_type(), "task.response");
  EXPECT_FALSE(final->payload().fields().contains("final"));
  // Nothing comes after `done`: the client's destruction waits for the
  // stream to end, and `done` stays the last event.
  client.reset();
  EXPECT_EQ(record.done_calls(), 1);
  EXPECT_EQ(record.events().back(), "done");
}

TEST_P(StreamAsyncTest, NullIntermediateCallbackIsAllowed) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  StreamRecord record;
  client->SendStreamAsync(StreamRequest(3), nullptr, record.Done());
  ASSERT_TRUE(record.Wait());
  EXPECT_EQ(record.events(), std::vector<std::string>{"done"});
  EXPECT_TRUE(record.result().ok()) << record.result().status();
}

TEST_P(StreamAsyncTest, ErrorsBeforeTheCallReachDoneOnThisThread) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  CallOptions bad_metadata;
  bad_metadata.metadata = {{"Authorization", "Bearer stolen"}};
  CallOptions past;
  past.deadline = absl::Now() - absl::Seconds(1);
  v1::Envelope invalid = StreamRequest(2);
  invalid.set_sender("not a urn");
  StreamRecord refused_metadata, refused_deadline, refused_envelope;
  client->SendStreamAsync(StreamRequest(2), bad_metadata,
                          refused_metadata.OnIntermediate(),
                          refused_metadata.Done());
  client->SendStreamAsync(StreamRequest(2), past,
                          refused_deadline.OnIntermediate(),
                          refused_deadline.Done());
  client->SendStreamAsync(invalid, refused_envelope.OnIntermediate(),
                          refused_envelope.Done());
  // Each `done` has run before SendStreamAsync returned.
  ASSERT_TRUE(refused_metadata.finished());
  ASSERT_TRUE(refused_deadline.finished());
  ASSERT_TRUE(refused_envelope.finished());
  EXPECT_EQ(refused_metadata.result().status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeOf(refused_deadline.result().status()),
            ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(ErrorCodeOf(refused_envelope.result().status()),
            ErrorCode::kMalformedEnvelope)
      << refused_envelope.result().status();
  EXPECT_EQ(refused_envelope.events(), std::vector<std::string>{"done"});
}

TEST_P(StreamAsyncTest, HandlerErrorComesAfterItsIntermediates) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  StreamRecord record;
  client->SendStreamAsync(StreamRequest(0, "fail.stream"),
                          record.OnIntermediate(), record.Done());
  ASSERT_TRUE(record.Wait());
  EXPECT_EQ(record.events(),
            (std::vector<std::string>{"task.update 50", "done"}));
  EXPECT_EQ(ErrorCodeOf(record.result().status()), ErrorCode::kInvalidState)
      << record.result().status();
}

TEST_P(StreamAsyncTest, ManyStreamsInFlightFromOneThread) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  constexpr int kStreams = 40;
  std::vector<std::unique_ptr<StreamRecord>> records;
  for (int i = 0; i < kStreams; ++i) {
    records.push_back(std::make_unique<StreamRecord>());
    client->SendStreamAsync(StreamRequest(1 + i % 4),
                            records.back()->OnIntermediate(),
                            records.back()->Done());
  }
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(records[i]->Wait()) << i;
    ASSERT_TRUE(records[i]->result().ok()) << records[i]->result().status();
    EXPECT_EQ(records[i]->events().size(), size_t(1 + i % 4) + 1) << i;
  }
}

TEST_P(StreamAsyncTest, StreamStartedFromACallback) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  StreamRecord first, second;
  AsapClient* raw = client.get();
  client->SendStreamAsync(
      StreamRequest(1), nullptr, [&, raw](absl::StatusOr<v1::Envelope> result) {
        ASSERT_TRUE(result.ok()) << result.status();
        raw->SendStreamAsync(StreamRequest(2), second.OnIntermediate(),
                             second.Done());
        first.Done()(std::move(result));
      });
  ASSERT_TRUE(first.Wait());
  ASSERT_TRUE(second.Wait());
  EXPECT_TRUE(second.result().ok()) << second.result().status();
  EXPECT_EQ(second.events(), (std::vector<std::string>{
                                 "task.update 50", "task.update 100", "done"}));
}

TEST_P(StreamAsyncTest, DoneMayStartTheNextStreamOnAPoolOfOne) {
  // One stream (gRPC) or one HTTP/1.1 connection in all: the first stream
  // gives its place back before its `done` runs, so the next call started
  // there gets it instead of pool_exhausted.
  ClientOptions options;
  options.target = target();
  options.timeout = kWaitBound;
  options.pool.pool_connections = 1;
  options.pool.pool_maxsize = 1;
  options.http.protocol = HttpProtocol::kHttp1;
  auto client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  StreamRecord first, second;
  AsapClient* raw = client.get();
  client->SendStreamAsync(
      StreamRequest(2), nullptr, [&, raw](absl::StatusOr<v1::Envelope> result) {
        raw->SendStreamAsync(StreamRequest(2), second.OnIntermediate(),
                             second.Done());
        first.Done()(std::move(result));
      });
  ASSERT_TRUE(first.Wait());
  ASSERT_TRUE(second.Wait());
  EXPECT_TRUE(first.result().ok()) << first.result().status();
  EXPECT_TRUE(second.result().ok()) << second.result().status();
  EXPECT_EQ(second.events(), (std::vector<std::string>{
                                 "task.update 50", "task.update 100", "done"}));
}

TEST_P(StreamAsyncTest, UnreachableAgentIsRetriedThenUnavailable) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string address = absl::StrCat("127.0.0.1:", *port);
  ClientOptions options;
  options.target = http() ? "http://" + address : address;
  options.timeout = kWaitBound;
  options.retry.max_retries = 2;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.http.retry.max_retries = 2;
  options.http.retry.initial_backoff = absl::Milliseconds(1);
  options.http.protocol = HttpProtocol::kHttp1;
  auto client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  StreamRecord record;
  client->SendStreamAsync(StreamRequest(2), record.OnIntermediate(),
                          record.Done());
  ASSERT_TRUE(record.Wait());
  EXPECT_EQ(ErrorCodeOf(record.result().status()), ErrorCode::kUnavailable)
      << record.result().status();
  EXPECT_EQ(
      http() ? client->http_stats().retries : client->retry_stats().retries,
      2u);
}

TEST_P(StreamAsyncTest, DestroyingTheClientEndsAHeldStreamOnce) {
  RecordingAgent::Options held;
  held.hold = true;
  std::unique_ptr<RecordingAgent> agent = RecordingAgent::Start(held);
  ASSERT_NE(agent, nullptr);
  ClientOptions options;
  options.target = http() ? agent->http_target() : agent->grpc_target();
  options.timeout = kWaitBound;
  auto client = CreateTestClient(options);
  ASSERT_NE(client, nullptr);
  StreamRecord record;
  client->SendStreamAsync(StreamRequest(2), record.OnIntermediate(),
                          record.Done());
  // The handler holds the stream open; the client goes away meanwhile.
  ASSERT_TRUE(
      testing::WaitUntil([&] { return agent->calls() == 1; }, kWaitBound));
  client.reset();
  ASSERT_TRUE(record.finished());
  EXPECT_EQ(record.done_calls(), 1);
  EXPECT_EQ(ErrorCodeOf(record.result().status()), ErrorCode::kCancelled)
      << record.result().status();
}

}  // namespace
}  // namespace asap
