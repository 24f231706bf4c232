// Attacks on the server, each bounded in count, time and memory: a client
// that stops reading, compression bombs, amplification, throwing handlers,
// nonce floods, idle streams, oversized frames and envelopes without id.
// Every client here is a raw gRPC stub, so nothing asap's client checks
// stands between the attacker and the server.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "asap/compression/codec.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/server/grpc_services.grpc.pb.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

v1::Envelope Request(const std::string& text = "hi") {
  v1::Envelope envelope =
      asap::testing::EchoRequest(text, "urn:asap:agent:tester");
  FillEnvelopeDefaults(&envelope, absl::Now());
  return envelope;
}

// A channel of its own (its own TCP connection), unlimited message sizes so
// the attacker is limited only by the server.
std::unique_ptr<v1::AsapService::Stub> StubFor(const AsapServer& server) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::AsapService::NewStub(grpc::CreateCustomChannel(
      server.address(), grpc::InsecureChannelCredentials(), args));
}

std::string Trailer(const grpc::ClientContext& context) {
  auto trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("asap-error-code");
  return it == trailers.end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

grpc::Status Send(v1::AsapService::Stub* stub, const v1::Envelope& request,
                  v1::Envelope* response, std::string* code = nullptr,
                  grpc_compression_algorithm compression = GRPC_COMPRESS_NONE) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  if (compression != GRPC_COMPRESS_NONE) {
    context.set_compression_algorithm(compression);
  }
  grpc::Status status = stub->Send(&context, request, response);
  if (code != nullptr) *code = Trailer(context);
  return status;
}

v1::BatchFrame Frame(int envelopes) {
  v1::BatchFrame frame;
  for (int i = 0; i < envelopes; ++i) {
    *frame.add_envelopes() = Request(absl::StrCat(i));
  }
  return frame;
}

int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// Point 1: a stream whose client never reads stalls only itself, and is
// cancelled once it makes no progress for stream_stall_timeout.
TEST(HardeningTest, StreamThatNeverReadsStallsOnlyItself) {
  ServerOptions options;
  options.limits.stream_stall_timeout = absl::Seconds(2);
  options.handler_threads = 2;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);

  auto attacker_stub = StubFor(*server);
  grpc::ClientContext attacker_context;
  attacker_context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto attacker = attacker_stub->SendBatch(&attacker_context);
  // 20 frames of 100 envelopes with 40 KB of text each: 80 MB of results,
  // far more than the client's HTTP/2 receive window, never read.
  std::string text(40 * 1024, 'x');
  std::thread writer([&] {
    v1::BatchFrame frame;
    for (int i = 0; i < 100; ++i) *frame.add_envelopes() = Request(text);
    for (int f = 0; f < 20; ++f) {
      if (!attacker->Write(frame)) return;
    }
    attacker->WritesDone();
  });

  auto victim = StubFor(*server);
  for (int round = 0; round < 3; ++round) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = victim->SendBatch(&context);
    ASSERT_TRUE(
        stream->Write(Frame(10), grpc::WriteOptions().set_last_message()));
    int answered = 0;
    v1::BatchResultFrame results;
    while (stream->Read(&results)) {
      for (const auto& result : results.results()) {
        EXPECT_TRUE(result.has_response()) << result.error().message();
        ++answered;
      }
    }
    grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(answered, 10);
  }

  // The attacker's stream is cancelled by the server, not by its deadline.
  // (gRPC delivers the status once the messages received are drained.)
  writer.join();
  v1::BatchResultFrame unread;
  while (attacker->Read(&unread)) {
  }
  grpc::Status attacker_status = attacker->Finish();
  EXPECT_EQ(attacker_status.error_code(), grpc::StatusCode::CANCELLED)
      << attacker_status.error_message();
}

// Eight clients that never read, sending big frames: what the server holds
// for them stays within its memory quota, and a ninth client is served.
TEST(HardeningTest, NonReadingStreamsStayWithinTheMemoryQuota) {
  ServerOptions options;
  options.limits.memory_quota_bytes = 64 << 20;
  options.limits.stream_stall_timeout = absl::Seconds(60);
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  v1::BatchFrame frame;
  for (int i = 0; i < 100; ++i) {
    *frame.add_envelopes() = Request(std::string(20 * 1024, 'b'));
  }
  struct Attacker {
    std::unique_ptr<v1::AsapService::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<
        grpc::ClientReaderWriter<v1::BatchFrame, v1::BatchResultFrame>>
        stream;
    std::thread writer;
  };
  std::vector<std::unique_ptr<Attacker>> attackers;
  for (int a = 0; a < 8; ++a) {
    auto attacker = std::make_unique<Attacker>();
    attacker->stub = StubFor(*server);
    attacker->stream = attacker->stub->SendBatch(&attacker->context);
    Attacker* raw = attacker.get();
    raw->writer = std::thread([raw, &frame] {
      for (int f = 0; f < 20; ++f) {
        if (!raw->stream->Write(frame)) return;
      }
    });
    attackers.push_back(std::move(attacker));
  }
  // A victim is served meanwhile (its frame may be refused at the quota,
  // which is an answer too: the server does not stall).
  auto victim = StubFor(*server);
  v1::Envelope response;
  for (int i = 0; i < 20; ++i) {
    grpc::Status status = Send(victim.get(), Request(), &response);
    EXPECT_TRUE(status.ok() ||
                status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
  }
  AsapServer::Stats stats = server->stats();
  EXPECT_LE(stats.memory_peak, 64u << 20);
  for (auto& attacker : attackers) attacker->context.TryCancel();
  for (auto& attacker : attackers) {
    attacker->writer.join();
    v1::BatchResultFrame unread;
    while (attacker->stream->Read(&unread)) {
    }
    attacker->stream->Finish();
  }
}

// Point 2: gRPC's own gzip is inflated by asap with the message limit.
TEST(HardeningTest, GrpcGzipBombIsStoppedAtTheLimit) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  // 64 MB of one letter: about 64 KB once gzipped.
  v1::Envelope bomb = Request(std::string(64 << 20, 'a'));
  v1::Envelope response;
  std::string code;
  grpc::Status status =
      Send(stub.get(), bomb, &response, &code, GRPC_COMPRESS_GZIP);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(code, "asap:transport/payload_too_large");
  EXPECT_THAT(status.error_message(), HasSubstr("exceeds the limit"));
}

TEST(HardeningTest, StandardGzipClientsStillWork) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope response;
  grpc::Status status = Send(stub.get(), Request(std::string(4096, 'z')),
                             &response, nullptr, GRPC_COMPRESS_GZIP);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(asap::testing::EchoedText(response), std::string(4096, 'z'));
}

// gRPC's own services (health) see compressed requests too: they must not be
// inflated without a limit either.
TEST(HardeningTest, GzipBombToTheHealthServiceIsNotInflated) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(
      server->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(std::string(64 << 20, 's'));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, request, &response);
  // Inflated and parsed, the request would name an unknown service.
  EXPECT_NE(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(status.ok());
  // And plain health checks still work.
  grpc::ClientContext plain;
  EXPECT_TRUE(
      health->Check(&plain, grpc::health::v1::HealthCheckRequest(), &response)
          .ok());
}

TEST(HardeningTest, DeflateIsRefusedClearly) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope response;
  grpc::Status status = Send(stub.get(), Request(std::string(4096, 'z')),
                             &response, nullptr, GRPC_COMPRESS_DEFLATE);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED)
      << status.error_message();
}

v1::Envelope WithList(int64_t elements) {
  v1::Envelope envelope = Request();
  auto* list = (*envelope.mutable_payload()->mutable_fields())["input"]
                   .mutable_struct_value();
  auto* values = (*list->mutable_fields())["items"].mutable_list_value();
  for (int64_t i = 0; i < elements; ++i) values->add_values();
  return envelope;
}

// Point 3: JSON values are counted on the bytes before anything is parsed.
TEST(HardeningTest, TooManyJsonValuesIsResourceExhausted) {
  ServerOptions options;
  options.limits.max_json_values = 1000;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope response;
  std::string code;
  // Under the limit: the payload's own fields plus 900 list elements.
  EXPECT_TRUE(Send(stub.get(), WithList(900), &response, &code).ok());
  grpc::Status status = Send(stub.get(), WithList(2000), &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(code, "asap:transport/resource_exhausted");
  EXPECT_THAT(status.error_message(), HasSubstr("max_json_values"));
}

TEST(HardeningTest, DefaultLimitRefusesTheFiveMillionElementList) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope response;
  std::string code;
  // 5 million empty values: 10 MB on the wire, ~500 MB once parsed.
  grpc::Status status = Send(stub.get(), WithList(5'000'000), &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
}

TEST(HardeningTest, TooDeepJsonIsResourceExhausted) {
  ServerOptions options;
  options.limits.max_depth = 8;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  v1::Envelope deep = Request();
  google::protobuf::Struct* level =
      (*deep.mutable_payload()->mutable_fields())["input"]
          .mutable_struct_value();
  for (int i = 0; i < 20; ++i) {
    level = (*level->mutable_fields())["n"].mutable_struct_value();
  }
  auto stub = StubFor(*server);
  v1::Envelope response;
  std::string code;
  grpc::Status status = Send(stub.get(), deep, &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("max_depth"));
}

TEST(HardeningTest, MemoryQuotaTurnsOverloadIntoResourceExhausted) {
  ServerOptions options;
  options.limits.memory_quota_bytes = 4 << 20;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope response;
  std::string code;
  EXPECT_TRUE(Send(stub.get(), Request(), &response, &code).ok());
  // 3 MB on the wire, held twice while it is read: past a 4 MB quota.
  grpc::Status status =
      Send(stub.get(), Request(std::string(3 << 20, 'm')), &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(code, "asap:transport/resource_exhausted");
  EXPECT_THAT(status.error_message(), HasSubstr("memory quota"));
}

HandlerRegistry Throwing() {
  HandlerRegistry handlers;
  handlers
      .Register("task.request",
                [](const v1::Envelope&,
                   const v1::Manifest&) -> absl::StatusOr<v1::Envelope> {
                  throw std::runtime_error("boom");
                })
      .IgnoreError();
  return handlers;
}

// Point 4: a throwing handler is asap:internal/error on every path.
TEST(HardeningTest, ThrowingHandlerIsInternalErrorInBatchAndUnary) {
  auto server = testing::StartTestServer(Throwing());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope response;
  std::string code;
  grpc::Status status = Send(stub.get(), Request(), &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(code, "asap:internal/error");
  EXPECT_THAT(status.error_message(), HasSubstr("boom"));

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub->SendBatch(&context);
  ASSERT_TRUE(stream->Write(Frame(3), grpc::WriteOptions().set_last_message()));
  v1::BatchResultFrame results;
  int errors = 0;
  while (stream->Read(&results)) {
    for (const auto& result : results.results()) {
      EXPECT_EQ(result.error().asap_code(), "asap:internal/error");
      ++errors;
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(errors, 3);
  // Still serving.
  EXPECT_EQ(Send(stub.get(), Request(), &response).error_code(),
            grpc::StatusCode::INTERNAL);
}

// Point 5: the nonce store is bounded in nonce length and entries.
TEST(HardeningTest, NonceStoreIsBounded) {
  ServerOptions options;
  options.limits.max_nonces = 3;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  auto with_nonce = [](const std::string& nonce) {
    v1::Envelope envelope = Request();
    (*envelope.mutable_extensions()->mutable_fields())["nonce"]
        .set_string_value(nonce);
    return envelope;
  };
  v1::Envelope response;
  std::string code;
  grpc::Status status = Send(
      stub.get(), with_nonce(std::string(50 * 1024, 'n')), &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code, "asap:protocol/invalid_nonce");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(
        Send(stub.get(), with_nonce(absl::StrCat("n", i)), &response).ok());
  }
  status = Send(stub.get(), with_nonce("one-too-many"), &response, &code);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(code, "asap:transport/resource_exhausted");
  // A replay is still a replay.
  status = Send(stub.get(), with_nonce("n0"), &response, &code);
  EXPECT_EQ(code, "asap:protocol/invalid_nonce");
}

// Idle streams cost no thread each.
TEST(HardeningTest, IdleBatchStreamsDoNotCostAThreadEach) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  // Warm up: the server's own threads exist before counting.
  v1::Envelope response;
  ASSERT_TRUE(Send(stub.get(), Request(), &response).ok());
  int before = ThreadCount();
  constexpr int kStreams = 90;  // under the per-connection stream limit
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<
      grpc::ClientReaderWriter<v1::BatchFrame, v1::BatchResultFrame>>>
      streams;
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(stub->SendBatch(contexts.back().get()));
    // Metadata arrives once the server has started the stream.
    streams.back()->WaitForInitialMetadata();
  }
  int during = ThreadCount();
  EXPECT_LT(during - before, 20) << before << " -> " << during;
  for (auto& context : contexts) context->TryCancel();
  for (auto& stream : streams) stream->Finish();
}

// A frame with more envelopes than the limit ends the stream with a clear
// error; results too big for one message are split, none is lost.
TEST(HardeningTest, OversizedFrameIsRefusedAndBigResultsAreSplit) {
  ServerOptions options;
  options.limits.max_envelopes_per_frame = 50;
  options.max_message_bytes = 64 * 1024;
  HandlerRegistry tripling;
  tripling
      .Register("task.request",
                [](const v1::Envelope& request, const v1::Manifest& manifest) {
                  absl::StatusOr<v1::Envelope> response =
                      asap::EchoTask(request, manifest);
                  if (response.ok()) {
                    std::string text = asap::testing::EchoedText(*response);
                    (*response->mutable_payload()->mutable_fields())["metrics"]
                        .mutable_struct_value()
                        ->mutable_fields()
                        ->
                        operator[]("copy")
                        .set_string_value(text + text);
                  }
                  return response;
                })
      .IgnoreError();
  auto server =
      testing::StartTestServer(std::move(tripling), std::move(options));
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = stub->SendBatch(&context);
    stream->Write(Frame(51), grpc::WriteOptions().set_last_message());
    v1::BatchResultFrame results;
    while (stream->Read(&results)) {
    }
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(status.error_message(), HasSubstr("max_envelopes_per_frame"));
  }
  // 50 envelopes of ~1 KB answer with ~150 KB of results: more than one
  // 64 KB message, so they come back in several frames.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub->SendBatch(&context);
  v1::BatchFrame frame;
  for (int i = 0; i < 50; ++i) {
    *frame.add_envelopes() = Request(std::string(1000, 'a' + i % 26));
  }
  ASSERT_LT(frame.ByteSizeLong(), 64u * 1024);
  stream->Write(frame, grpc::WriteOptions().set_last_message());
  v1::BatchResultFrame results;
  int frames = 0;
  std::vector<bool> seen(50, false);
  while (stream->Read(&results)) {
    ++frames;
    for (const auto& result : results.results()) {
      ASSERT_LT(result.index(), 50u);
      EXPECT_TRUE(result.has_response()) << result.error().message();
      seen[result.index()] = true;
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_GT(frames, 1);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(seen[i]) << i;
}

// A compressed batch frame is inflated with the limit too.
TEST(HardeningTest, CompressedBatchFrameBombIsStopped) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  // Made before the call starts: compressing 64 MiB is slow under the
  // sanitizers, and is not what the deadline guards.
  v1::BatchFrame bomb;
  bomb.set_encoding("gzip");
  bomb.set_body(
      *(*FindCodec("gzip"))->Compress(std::string(64 << 20, '\0'), 9));
  ASSERT_LT(bomb.body().size(), 1u << 20);
  grpc::ClientContext context;
  // A deadlock guard, not a timing threshold.
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->SendBatch(&context);
  stream->Write(bomb, grpc::WriteOptions().set_last_message());
  v1::BatchResultFrame results;
  while (stream->Read(&results)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Trailer(context), "asap:transport/payload_too_large");
}

TEST(HardeningTest, ResultFramesAreCompressedWhenTheClientAcceptsIt) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  grpc::ClientContext context;
  context.AddMetadata("asap-accept-encoding", "gzip");
  auto stream = stub->SendBatch(&context);
  v1::BatchFrame frame;
  for (int i = 0; i < 20; ++i)
    *frame.add_envelopes() = Request(std::string(2000, 'q'));
  stream->Write(frame, grpc::WriteOptions().set_last_message());
  v1::BatchResultFrame results;
  int answered = 0;
  while (stream->Read(&results)) {
    EXPECT_EQ(results.encoding(), "gzip");
    EXPECT_EQ(results.results_size(), 0);
    v1::BatchResultFrame inner;
    ASSERT_TRUE(inner.ParseFromString(
        *(*FindCodec("gzip"))->Decompress(results.body(), 1 << 20)));
    answered += inner.results_size();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered, 20);
}

// Point 6: id and timestamp are generated when absent, before anything runs.
TEST(HardeningTest, MissingIdAndTimestampAreGenerated) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  v1::Envelope request =
      asap::testing::EchoRequest("no id", "urn:asap:agent:t");
  request.clear_id();
  request.clear_timestamp();
  request.set_asap_version(kAsapVersion);
  v1::Envelope response;
  grpc::Status status = Send(stub.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.correlation_id().empty());
  EXPECT_EQ(asap::testing::EchoedText(response), "no id");

  grpc::ClientContext context;
  auto stream = stub->SendBatch(&context);
  v1::BatchFrame frame;
  *frame.add_envelopes() = request;
  stream->Write(frame, grpc::WriteOptions().set_last_message());
  v1::BatchResultFrame results;
  ASSERT_TRUE(stream->Read(&results));
  ASSERT_EQ(results.results_size(), 1);
  EXPECT_TRUE(results.results(0).has_response())
      << results.results(0).error().message();
  EXPECT_FALSE(results.results(0).response().correlation_id().empty());
  EXPECT_TRUE(stream->Finish().ok());
}

// Point 7: numbers from the network never reach an undefined conversion.
TEST(HardeningTest, NonFiniteAndHugeIntegersAreMalformed) {
  auto server = testing::StartTestServer(HandlerRegistry());
  ASSERT_NE(server, nullptr);
  auto stub = StubFor(*server);
  for (double number : {std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(), 1e300,
                        9223372036854775808.0}) {
    v1::Envelope request = Request();
    request.set_payload_type("state.query");
    request.mutable_payload()->Clear();
    auto& fields = *request.mutable_payload()->mutable_fields();
    fields["task_id"].set_string_value("t");
    fields["version"].set_number_value(number);
    v1::Envelope response;
    std::string code;
    grpc::Status status = Send(stub.get(), request, &response, &code);
    EXPECT_EQ(code, "asap:protocol/malformed_envelope") << number;
    EXPECT_THAT(status.error_message(), HasSubstr("must be an integer"));
  }
}

}  // namespace
}  // namespace asap
