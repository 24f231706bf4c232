// Streaming handlers: intermediate envelopes before the final one, through
// the dispatcher (DispatchStream) and the gRPC binding (SendStream).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "server/dispatcher.h"
#include "server/grpc/send_stream.h"
#include "server/handler_registry.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kClient[] = "urn:asap:agent:stream-client";
constexpr char kProgress[] = "test.progress";

// A request for `payload_type` (handled by the test's own handlers).
v1::Envelope Request(const std::string& payload_type = "test.work") {
  v1::Envelope envelope = asap::testing::EchoRequest("stream", kClient);
  envelope.set_payload_type(payload_type);
  FillEnvelopeDefaults(&envelope, absl::Now());
  return envelope;
}

// An intermediate envelope of a payload type asap has no schema for.
v1::Envelope Progress(int step, size_t padding = 0) {
  v1::Envelope envelope;
  envelope.set_payload_type(kProgress);
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["step"].set_number_value(step);
  if (padding > 0)
    fields["padding"].set_string_value(std::string(padding, 'p'));
  return envelope;
}

v1::Envelope Final(const std::string& text = "done") {
  v1::Envelope envelope;
  envelope.set_payload_type("test.result");
  (*envelope.mutable_payload()->mutable_fields())["text"].set_string_value(
      text);
  return envelope;
}

// The streaming marker; nullopt when absent or not a bool.
std::optional<bool> FinalMark(const v1::Envelope& envelope) {
  auto it = envelope.payload().fields().find("final");
  if (it == envelope.payload().fields().end() || !it->second.has_bool_value()) {
    return std::nullopt;
  }
  return it->second.bool_value();
}

// ---- EnvelopeDispatcher::DispatchStream ----

class DispatchStreamTest : public ::testing::Test {
 protected:
  DispatchStreamTest() : manifest_(asap::EchoManifest("")) {}

  // Dispatches `request` as a streaming call; what the binding saw.
  struct Outcome {
    std::vector<v1::Envelope> intermediates;
    absl::StatusOr<v1::Envelope> final = absl::UnknownError("no result");
    // An emit reached the binding after done.
    bool emit_after_done = false;
  };
  Outcome Stream(v1::Envelope request, bool binding_accepts = true) {
    EnvelopeDispatcher dispatcher(&manifest_, &handlers_, ValidationOptions{},
                                  /*nonces=*/nullptr, absl::Now);
    HandlerContext context(&manifest_);
    Outcome outcome;
    absl::Mutex mu;
    bool done = false;
    absl::Notification finished;
    dispatcher.DispatchStream(
        &request, &context, /*may_block=*/true,
        [&](v1::Envelope intermediate) {
          absl::MutexLock lock(&mu);
          if (done) outcome.emit_after_done = true;
          outcome.intermediates.push_back(std::move(intermediate));
          return binding_accepts;
        },
        [&](absl::StatusOr<v1::Envelope> result) {
          {
            absl::MutexLock lock(&mu);
            done = true;
            outcome.final = std::move(result);
          }
          finished.Notify();
        });
    finished.WaitForNotification();
    absl::MutexLock lock(&mu);
    return outcome;
  }

  absl::StatusOr<v1::Envelope> Unary(v1::Envelope request) {
    EnvelopeDispatcher dispatcher(&manifest_, &handlers_, ValidationOptions{},
                                  /*nonces=*/nullptr, absl::Now);
    return dispatcher.Dispatch(std::move(request));
  }

  v1::Manifest manifest_;
  HandlerRegistry handlers_;
};

TEST_F(DispatchStreamTest, IntermediatesAreCompletedAndMarkedNotFinal) {
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming("test.work",
                             [](const v1::Envelope&, const HandlerContext&,
                                const StreamEmit& emit) {
                               for (int step = 1; step <= 3; ++step) {
                                 EXPECT_TRUE(emit(Progress(step)));
                               }
                               return Final();
                             })
          .ok());
  v1::Envelope request = Request();
  Outcome outcome = Stream(request);
  ASSERT_THAT(outcome.intermediates, SizeIs(3));
  for (const v1::Envelope& intermediate : outcome.intermediates) {
    EXPECT_EQ(FinalMark(intermediate), false);
    EXPECT_FALSE(intermediate.id().empty());
    EXPECT_FALSE(intermediate.timestamp().empty());
    EXPECT_EQ(intermediate.correlation_id(), request.id());
    EXPECT_EQ(intermediate.sender(), manifest_.id());
    EXPECT_EQ(intermediate.recipient(), kClient);
  }
  EXPECT_EQ(
      outcome.intermediates[2].payload().fields().at("step").number_value(), 3);
  ASSERT_TRUE(outcome.final.ok()) << outcome.final.status();
  EXPECT_EQ(FinalMark(*outcome.final), true);
  EXPECT_EQ(outcome.final->correlation_id(), request.id());
  EXPECT_NE(outcome.final->id(), outcome.intermediates[0].id());
}

TEST_F(DispatchStreamTest, PlainHandlerGivesOnlyTheFinalEnvelope) {
  ASSERT_TRUE(handlers_.Register("test.work", asap::EchoTask).ok());
  Outcome outcome = Stream(Request());
  EXPECT_TRUE(outcome.intermediates.empty());
  ASSERT_TRUE(outcome.final.ok()) << outcome.final.status();
  EXPECT_EQ(FinalMark(*outcome.final), true);
}

TEST_F(DispatchStreamTest, AsyncHandlerGivesOnlyTheFinalEnvelope) {
  ASSERT_TRUE(handlers_
                  .RegisterAsync("test.work",
                                 [](const v1::Envelope&, const HandlerContext&,
                                    HandlerDone done) { done(Final()); })
                  .ok());
  Outcome outcome = Stream(Request());
  EXPECT_TRUE(outcome.intermediates.empty());
  ASSERT_TRUE(outcome.final.ok()) << outcome.final.status();
  EXPECT_EQ(FinalMark(*outcome.final), true);
}

TEST_F(DispatchStreamTest, UnaryDispatchDropsIntermediatesAndLeavesNoMark) {
  std::atomic<int> accepted{0};
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming("test.work",
                             [&](const v1::Envelope&, const HandlerContext&,
                                 const StreamEmit& emit) {
                               for (int step = 1; step <= 3; ++step) {
                                 if (emit(Progress(step))) ++accepted;
                               }
                               return Final("unary");
                             })
          .ok());
  absl::StatusOr<v1::Envelope> response = Unary(Request());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(accepted.load(), 3);
  EXPECT_EQ(FinalMark(*response), std::nullopt);
  EXPECT_EQ(response->payload().fields().at("text").string_value(), "unary");
}

TEST_F(DispatchStreamTest, InvalidIntermediateEndsTheCallWithInternalError) {
  std::vector<bool> answers;
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming("test.work",
                             [&](const v1::Envelope&, const HandlerContext&,
                                 const StreamEmit& emit) {
                               answers.push_back(emit(Progress(1)));
                               v1::Envelope invalid = Progress(2);
                               invalid.clear_payload_type();
                               answers.push_back(emit(invalid));
                               answers.push_back(emit(Progress(3)));
                               return Final();
                             })
          .ok());
  Outcome outcome = Stream(Request());
  EXPECT_THAT(answers, ::testing::ElementsAre(true, false, false));
  EXPECT_THAT(outcome.intermediates, SizeIs(1));
  EXPECT_EQ(ErrorCodeOf(outcome.final.status()), ErrorCode::kInternal);
  EXPECT_THAT(outcome.final.status().message(),
              HasSubstr("invalid intermediate envelope"));
}

TEST_F(DispatchStreamTest, BindingRefusalStopsFurtherEmits) {
  std::vector<bool> answers;
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming("test.work",
                             [&](const v1::Envelope&, const HandlerContext&,
                                 const StreamEmit& emit) {
                               answers.push_back(emit(Progress(1)));
                               answers.push_back(emit(Progress(2)));
                               return Final();
                             })
          .ok());
  Outcome outcome = Stream(Request(), /*binding_accepts=*/false);
  EXPECT_THAT(answers, ::testing::ElementsAre(false, false));
  // The binding saw the first only: after its refusal nothing more is sent.
  EXPECT_THAT(outcome.intermediates, SizeIs(1));
  // The binding decides how a refused stream ends; the dispatcher still
  // passes on the handler's result.
  EXPECT_TRUE(outcome.final.ok());
}

TEST_F(DispatchStreamTest, HandlerErrorComesAfterItsIntermediates) {
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming(
              "test.work",
              [](const v1::Envelope&, const HandlerContext&,
                 const StreamEmit& emit) -> absl::StatusOr<v1::Envelope> {
                emit(Progress(1));
                return AsapError(ErrorCode::kTaskNotFound, "no task");
              })
          .ok());
  Outcome outcome = Stream(Request());
  EXPECT_THAT(outcome.intermediates, SizeIs(1));
  EXPECT_EQ(ErrorCodeOf(outcome.final.status()), ErrorCode::kTaskNotFound);
}

TEST_F(DispatchStreamTest, ThrowingHandlerGivesInternalError) {
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming(
              "test.work",
              [](const v1::Envelope&, const HandlerContext&,
                 const StreamEmit& emit) -> absl::StatusOr<v1::Envelope> {
                emit(Progress(1));
                throw std::runtime_error("boom");
              })
          .ok());
  Outcome outcome = Stream(Request());
  EXPECT_EQ(ErrorCodeOf(outcome.final.status()), ErrorCode::kInternal);
  EXPECT_THAT(outcome.final.status().message(), HasSubstr("boom"));
}

TEST_F(DispatchStreamTest, AdmissionErrorsAreTheSameAsDispatch) {
  Outcome outcome = Stream(Request("nobody.handles"));
  EXPECT_EQ(ErrorCodeOf(outcome.final.status()), ErrorCode::kHandlerNotFound);
  v1::Envelope invalid = Request();
  invalid.clear_sender();
  outcome = Stream(invalid);
  EXPECT_EQ(ErrorCodeOf(outcome.final.status()), ErrorCode::kMalformedEnvelope);
}

TEST_F(DispatchStreamTest, EmitAfterTheHandlerReturnedNeverReachesTheBinding) {
  StreamEmit kept;
  ASSERT_TRUE(
      handlers_
          .RegisterStreaming("test.work",
                             [&](const v1::Envelope&, const HandlerContext&,
                                 const StreamEmit& emit) {
                               kept = emit;
                               return Final();
                             })
          .ok());
  Outcome outcome = Stream(Request());
  ASSERT_TRUE(outcome.final.ok());
  EXPECT_FALSE(kept(Progress(1)));
  EXPECT_TRUE(outcome.intermediates.empty());
}

TEST_F(DispatchStreamTest, EmitsFromManyThreadsAreSerializedAndAllArrive) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  ASSERT_TRUE(handlers_
                  .RegisterStreaming(
                      "test.work",
                      [](const v1::Envelope&, const HandlerContext&,
                         const StreamEmit& emit) {
                        std::vector<std::thread> threads;
                        for (int t = 0; t < kThreads; ++t) {
                          threads.emplace_back([&emit, t] {
                            for (int i = 0; i < kPerThread; ++i) {
                              EXPECT_TRUE(emit(Progress(t * kPerThread + i)));
                            }
                          });
                        }
                        for (std::thread& thread : threads) thread.join();
                        return Final();
                      })
                  .ok());
  Outcome outcome = Stream(Request());
  EXPECT_THAT(outcome.intermediates, SizeIs(kThreads * kPerThread));
  EXPECT_FALSE(outcome.emit_after_done);
  EXPECT_TRUE(outcome.final.ok());
}

// ---- gRPC SendStream ----

std::unique_ptr<v1::AsapService::Stub> StubFor(const AsapServer& server) {
  return v1::AsapService::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
}

v1::Envelope ToServer(v1::Envelope envelope) {
  envelope.set_recipient("urn:asap:agent:echo");
  return envelope;
}

// A test server whose "test.work" envelopes go to `handler`.
std::unique_ptr<AsapServer> StartStreamingServer(StreamingHandler handler,
                                                 ServerOptions options = {}) {
  HandlerRegistry handlers;
  EXPECT_TRUE(handlers.RegisterStreaming("test.work", std::move(handler)).ok());
  return testing::StartTestServer(std::move(handlers), std::move(options));
}

// Reads `reader` to its end, every envelope an intermediate (marked not
// final); how many there were.
int ReadIntermediates(grpc::ClientReaderInterface<v1::Envelope>& reader) {
  int intermediates = 0;
  v1::Envelope envelope;
  while (reader.Read(&envelope)) {
    EXPECT_EQ(FinalMark(envelope), false);
    ++intermediates;
  }
  return intermediates;
}

TEST(SendStreamTest, IntermediateArrivesWhileTheHandlerIsStillRunning) {
  absl::Notification client_saw_progress;
  auto server = StartStreamingServer(
      [&](const v1::Envelope&, const HandlerContext&, const StreamEmit& emit) {
        EXPECT_TRUE(emit(Progress(1)));
        // The final answer waits for the client to have the first.
        client_saw_progress.WaitForNotification();
        return Final();
      });
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  v1::Envelope request = ToServer(Request());
  auto reader = stub->SendStream(&context, request);
  v1::Envelope received;
  ASSERT_TRUE(reader->Read(&received));
  EXPECT_EQ(received.payload_type(), kProgress);
  EXPECT_EQ(FinalMark(received), false);
  EXPECT_EQ(received.correlation_id(), request.id());
  client_saw_progress.Notify();
  ASSERT_TRUE(reader->Read(&received));
  EXPECT_EQ(received.payload_type(), "test.result");
  EXPECT_EQ(FinalMark(received), true);
  EXPECT_FALSE(reader->Read(&received));
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(SendStreamTest, PlainHandlerGivesOneFinalEnvelope) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  v1::Envelope request = asap::testing::EchoRequest("plain", kClient);
  auto reader = stub->SendStream(&context, request);
  std::vector<v1::Envelope> received;
  v1::Envelope envelope;
  while (reader->Read(&envelope)) received.push_back(envelope);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_THAT(received, SizeIs(1));
  EXPECT_EQ(FinalMark(received[0]), true);
  EXPECT_EQ(asap::testing::EchoedText(received[0]), "plain");
}

TEST(SendStreamTest, ErrorsEndTheCallWithTheAsapStatus) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  {
    grpc::ClientContext context;
    auto reader =
        stub->SendStream(&context, ToServer(Request("nobody.handles")));
    v1::Envelope envelope;
    EXPECT_FALSE(reader->Read(&envelope));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_THAT(status.error_message(),
                HasSubstr("asap:transport/handler_not_found"));
    auto code = context.GetServerTrailingMetadata().find(kErrorCodeMetadataKey);
    ASSERT_NE(code, context.GetServerTrailingMetadata().end());
    EXPECT_EQ(std::string(code->second.data(), code->second.size()),
              "asap:transport/handler_not_found");
  }
  {
    grpc::ClientContext context;
    v1::Envelope invalid = ToServer(Request());
    invalid.set_sender("not a urn");
    auto reader = stub->SendStream(&context, invalid);
    v1::Envelope envelope;
    EXPECT_FALSE(reader->Read(&envelope));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                HasSubstr("asap:protocol/malformed_envelope"));
  }
}

TEST(SendStreamTest, HandlerErrorFollowsTheIntermediatesSentBeforeIt) {
  auto server = StartStreamingServer(
      [](const v1::Envelope&, const HandlerContext&,
         const StreamEmit& emit) -> absl::StatusOr<v1::Envelope> {
        emit(Progress(1));
        emit(Progress(2));
        return AsapError(ErrorCode::kTaskNotFound, "gone");
      });
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  auto reader = stub->SendStream(&context, ToServer(Request()));
  int intermediates = ReadIntermediates(*reader);
  grpc::Status status = reader->Finish();
  EXPECT_EQ(intermediates, 2);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("asap:task/not_found"));
}

// A handler that emits until told to stop; reports how it ended.
struct EndlessHandler {
  absl::Notification first_emitted;
  absl::Notification stopped;
  std::atomic<int> accepted{0};
  size_t padding = 0;

  StreamingHandler Handler() {
    return [this](const v1::Envelope&, const HandlerContext&,
                  const StreamEmit& emit) -> absl::StatusOr<v1::Envelope> {
      int step = 0;
      while (emit(Progress(++step, padding))) {
        if (accepted.fetch_add(1) == 0) first_emitted.Notify();
      }
      stopped.Notify();
      return Final();
    };
  }
};

TEST(SendStreamTest, ClientCancelMidStreamStopsTheHandler) {
  EndlessHandler endless;
  auto server = StartStreamingServer(endless.Handler());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  auto reader = stub->SendStream(&context, ToServer(Request()));
  v1::Envelope envelope;
  ASSERT_TRUE(reader->Read(&envelope));
  context.TryCancel();
  grpc::Status status = reader->Finish();
  EXPECT_FALSE(status.ok());
  endless.stopped.WaitForNotification();
  server->Shutdown();
  server->Wait();
  // The handler's final envelope is completed on its worker after `stopped`
  // and may still hold its charge for a moment: wait (bounded) for the
  // release rather than racing it.
  testing::WaitUntil([&] { return server->stats().memory_in_use == 0; },
                     absl::Seconds(10));
  EXPECT_EQ(server->stats().memory_in_use, 0u);
}

TEST(SendStreamTest, ClientThatFallsBehindGetsResourceExhausted) {
  EndlessHandler endless;
  auto server = StartStreamingServer(endless.Handler());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  auto reader = stub->SendStream(&context, ToServer(Request()));
  // Reads nothing until the handler has been refused.
  endless.stopped.WaitForNotification();
  int intermediates = ReadIntermediates(*reader);
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("asap:transport/resource_exhausted"));
  // Everything accepted was delivered, and no more than the queue could hold
  // beyond what was already written.
  EXPECT_EQ(intermediates, endless.accepted.load());
  EXPECT_GE(intermediates, 1);
}

TEST(SendStreamTest, ClientThatNeverReadsIsCancelledAfterTheStallTimeout) {
  EndlessHandler endless;
  // Large intermediates: the queue fills and the client's flow-control
  // window closes, so writes stall.
  endless.padding = 256 << 10;
  ServerOptions options;
  options.limits.stream_stall_timeout = absl::Milliseconds(200);
  auto server = StartStreamingServer(endless.Handler(), std::move(options));
  ASSERT_NE(server, nullptr);
  // A small fixed flow-control window: what the client does not read stays
  // in the server's writes.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  auto stub = v1::AsapService::NewStub(grpc::CreateCustomChannel(
      server->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  auto reader = stub->SendStream(&context, ToServer(Request()));
  endless.stopped.WaitForNotification();
  // The server gives up on the call by itself: what it held (request and
  // queued envelopes) is released while the client still reads nothing.
  EXPECT_TRUE(
      testing::WaitUntil([&] { return server->stats().memory_in_use == 0; }));
  // The client learns it at its next read: the call was cancelled, not
  // finished normally (that would deliver the queued envelopes first).
  v1::Envelope envelope;
  EXPECT_FALSE(reader->Read(&envelope));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED)
      << status.error_message();
}

// ---- AsapClient::SendStream and the echo agent's echo.stream ----

TEST(SendStreamTest, ClientGetsEchoStreamProgressThenResponse) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.target = server->address();
  auto client = AsapClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  v1::Envelope request = asap::testing::EchoRequest("", kClient);
  request.set_payload_type("echo.stream");
  request.mutable_payload()->clear_fields();
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields["text"].set_string_value("hello");
  fields["steps"].set_number_value(4);
  std::vector<double> percents;
  absl::StatusOr<v1::Envelope> response =
      (*client)->SendStream(request, [&](const v1::Envelope& update) {
        EXPECT_EQ(update.payload_type(), "task.update");
        EXPECT_EQ(FinalMark(update), std::nullopt);
        percents.push_back(update.payload()
                               .fields()
                               .at("progress")
                               .struct_value()
                               .fields()
                               .at("percent")
                               .number_value());
      });
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(percents, ::testing::ElementsAre(25, 50, 75, 100));
  EXPECT_EQ(response->payload_type(), "task.response");
  EXPECT_EQ(asap::testing::EchoedText(*response), "hello");
  EXPECT_EQ(FinalMark(*response), std::nullopt);

  // A unary Send of the same gets the response alone, unmarked.
  absl::StatusOr<v1::Envelope> unary = (*client)->Send(request);
  ASSERT_TRUE(unary.ok()) << unary.status();
  EXPECT_EQ(asap::testing::EchoedText(*unary), "hello");
  EXPECT_EQ(FinalMark(*unary), std::nullopt);
}

TEST(SendStreamTest, ClientSeesTheServersError) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.target = server->address();
  auto client = AsapClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<v1::Envelope> response =
      (*client)->SendStream(ToServer(Request("nobody.handles")), nullptr);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kHandlerNotFound);
}

}  // namespace
}  // namespace asap
