// Handlers see their call (deadline, cancellation, metadata, peer) and can
// complete asynchronously, on any thread.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/envelope.h"
#include "asap/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::Envelope Request() {
  v1::Envelope envelope = asap::testing::EchoRequest("ctx", "urn:asap:agent:t");
  FillEnvelopeDefaults(&envelope, absl::Now());
  return envelope;
}

std::unique_ptr<v1::AsapService::Stub> StubFor(const AsapServer& server) {
  return v1::AsapService::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
}

TEST(HandlerContextTest, HandlerSeesMetadataPeerAndDeadline) {
  absl::Mutex mu;
  std::string tenant, peer, binding;
  absl::Time deadline;
  HandlerRegistry handlers;
  ASSERT_TRUE(
      handlers
          .Register(
              "task.request",
              [&](const v1::Envelope& request, const HandlerContext& context) {
                absl::MutexLock lock(&mu);
                tenant = std::string(context.metadata("x-tenant").value_or(""));
                peer = context.peer();
                binding = std::string(context.binding());
                deadline = context.deadline();
                return asap::EchoTask(request, context.manifest());
              })
          .ok());
  auto server = testing::StartTestServer(std::move(handlers));
  ASSERT_NE(server, nullptr);
  grpc::ClientContext context;
  context.AddMetadata("x-tenant", "blue");
  absl::Time sent_deadline = absl::Now() + absl::Seconds(20);
  context.set_deadline(absl::ToChronoTime(sent_deadline));
  v1::Envelope response;
  ASSERT_TRUE(StubFor(*server)->Send(&context, Request(), &response).ok());
  // The handler's writes reach this thread through the socket, which TSan
  // cannot see: the lock makes the ordering visible.
  absl::MutexLock lock(&mu);
  EXPECT_EQ(tenant, "blue");
  EXPECT_THAT(peer, StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(binding, "grpc");
  EXPECT_LT(absl::AbsDuration(deadline - sent_deadline), absl::Seconds(1));
}

TEST(HandlerContextTest, HandlerSeesCancellation) {
  absl::Notification entered;
  std::atomic<bool> saw_cancel{false};
  HandlerRegistry handlers;
  ASSERT_TRUE(
      handlers
          .Register(
              "task.request",
              [&](const v1::Envelope& request, const HandlerContext& context)
                  -> absl::StatusOr<v1::Envelope> {
                entered.Notify();
                // Polls the call's state, bounded: a long handler
                // checks now and then whether anyone still waits.
                absl::Time give_up = absl::Now() + absl::Seconds(20);
                while (!context.IsCancelled() && absl::Now() < give_up) {
                  absl::SleepFor(absl::Milliseconds(1));
                }
                saw_cancel = context.IsCancelled();
                return absl::CancelledError("stopped");
              })
          .ok());
  auto server = testing::StartTestServer(std::move(handlers));
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  v1::Envelope response;
  absl::Notification finished;
  grpc::Status status;
  v1::Envelope request = Request();
  stub->async()->Send(&context, &request, &response, [&](grpc::Status s) {
    status = s;
    finished.Notify();
  });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  context.TryCancel();
  ASSERT_TRUE(finished.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  // The server is shut down (and so the handler finished) before the flag
  // is read.
  server.reset();
  EXPECT_TRUE(saw_cancel);
}

TEST(HandlerContextTest, AsyncHandlerCompletesLaterOnAnotherThread) {
  std::thread completer;
  HandlerRegistry handlers;
  ASSERT_TRUE(
      handlers
          .RegisterAsync("task.request",
                         [&](const v1::Envelope& request,
                             const HandlerContext& context, HandlerDone done) {
                           v1::Envelope copy = request;
                           const v1::Manifest* manifest = &context.manifest();
                           // Returns at once; answers from a thread
                           // of its own.
                           completer = std::thread([=] {
                             done(asap::EchoTask(copy, *manifest));
                             done(absl::InternalError("ignored"));
                           });
                         })
          .ok());
  auto server = testing::StartTestServer(std::move(handlers));
  ASSERT_NE(server, nullptr);
  grpc::ClientContext context;
  v1::Envelope response;
  grpc::Status status = StubFor(*server)->Send(&context, Request(), &response);
  completer.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(asap::testing::EchoedText(response), "ctx");
}

TEST(HandlerContextTest, NonBlockingHandlerAnswers) {
  HandlerRegistry handlers;
  ASSERT_TRUE(
      handlers.RegisterNonBlocking("task.request", asap::EchoTask).ok());
  EXPECT_EQ(handlers.RegisterNonBlocking("x", Handler()).code(),
            absl::StatusCode::kInvalidArgument);
  auto server = testing::StartTestServer(std::move(handlers));
  ASSERT_NE(server, nullptr);
  grpc::ClientContext context;
  v1::Envelope response;
  grpc::Status status = StubFor(*server)->Send(&context, Request(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(asap::testing::EchoedText(response), "ctx");
}

TEST(HandlerContextTest, AsyncHandlerThatThrowsIsInternal) {
  HandlerRegistry handlers;
  ASSERT_TRUE(handlers
                  .RegisterAsync("task.request",
                                 [](const v1::Envelope&, const HandlerContext&,
                                    HandlerDone) {
                                   throw std::runtime_error("async boom");
                                 })
                  .ok());
  auto server = testing::StartTestServer(std::move(handlers));
  ASSERT_NE(server, nullptr);
  grpc::ClientContext context;
  v1::Envelope response;
  grpc::Status status = StubFor(*server)->Send(&context, Request(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("async boom"));
}

}  // namespace
}  // namespace asap
