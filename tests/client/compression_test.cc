// Compression end to end: AsapClient <-> AsapServer over 127.0.0.1:0, raw
// SendCompressed calls for the error cases, and a byte-counting relay to see
// what really crosses the wire.
#include <grpcpp/grpcpp.h>

#include <random>
#include <string>

#include "absl/synchronization/notification.h"
#include "asap/compression/codec.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "benchmarks/relay/byte_counting_relay.h"
#include "client/asap_client.h"
#include "examples/echo_agent/echo_agent.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

// Varied, deterministic text: words from a small vocabulary with numbers.
std::string VariedText(size_t bytes, uint32_t seed = 1) {
  static const char* kWords[] = {"agent",  "task",   "manifest", "envelope",
                                 "result", "skill",  "research", "summary",
                                 "query",  "source", "score",    "status",
                                 "input",  "stream", "latency",  "cluster"};
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < bytes) {
    text += kWords[rng() % 16];
    text += ' ';
    if (rng() % 5 == 0) text += std::to_string(rng() % 100000) + ' ';
  }
  text.resize(bytes);
  return text;
}

v1::Envelope TaskRequest(const std::string& text) {
  v1::Envelope envelope = examples::EchoRequest(text, "urn:asap:agent:tester");
  FillEnvelopeDefaults(&envelope, absl::Now());
  return envelope;
}

using examples::EchoedText;

std::unique_ptr<AsapServer> StartEcho() {
  ServerOptions options;
  options.manifest = examples::EchoManifest("");
  return *AsapServer::Start(std::move(options), examples::EchoHandlers());
}

std::unique_ptr<AsapClient> ClientFor(const std::string& target,
                                      CompressionOptions compression = {}) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(30);
  options.compression = compression;
  return *AsapClient::Create(options);
}

// One raw SendCompressed call, as any gRPC client could make it.
grpc::Status RawSendCompressed(const AsapServer& server,
                               const v1::CompressedEnvelope& request,
                               v1::CompressedEnvelope* answer) {
  auto channel =
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  grpc::ClientContext context;
  return v1::AsapService::NewStub(channel)->SendCompressed(&context, request,
                                                           answer);
}

v1::CompressedEnvelope Compressed(const v1::Envelope& envelope,
                                  const std::string& encoding,
                                  const std::string& accept) {
  v1::CompressedEnvelope request;
  request.set_encoding(encoding);
  request.set_accept_encoding(accept);
  request.set_body(
      *(*FindCodec(encoding))->Compress(envelope.SerializeAsString()));
  return request;
}

TEST(CompressionTest, BodiesBelowTheThresholdGoUncompressed) {
  auto server = StartEcho();
  auto client = ClientFor(server->address());
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest("small"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(client->compression_stats().requests_compressed, 0u);
}

TEST(CompressionTest, BrotliBothWays) {
  auto server = StartEcho();
  auto client = ClientFor(server->address());  // br, accepts br and gzip
  std::string text = VariedText(50000);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);  // the handler saw the real input
  AsapClient::CompressionStats stats = client->compression_stats();
  EXPECT_EQ(stats.requests_compressed, 1u);
  EXPECT_EQ(stats.responses_compressed, 1u);
  EXPECT_LT(stats.request_bytes_sent * 2, stats.request_bytes_raw);
  EXPECT_LT(stats.response_bytes_received * 2, stats.response_bytes_raw);
}

TEST(CompressionTest, GzipBothWays) {
  auto server = StartEcho();
  CompressionOptions gzip;
  gzip.algorithm = "gzip";
  gzip.accept_encoding = "gzip";
  auto client = ClientFor(server->address(), gzip);
  std::string text = VariedText(20000);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_EQ(client->compression_stats().requests_compressed, 1u);
  EXPECT_EQ(client->compression_stats().responses_compressed, 1u);
}

TEST(CompressionTest, ServerAnswersInTheEncodingTheClientAccepts) {
  auto server = StartEcho();
  v1::CompressedEnvelope answer;
  grpc::Status status = RawSendCompressed(
      *server, Compressed(TaskRequest(VariedText(20000)), "br", "gzip"),
      &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.encoding(), "gzip");
  v1::Envelope response;
  ASSERT_TRUE(response.ParseFromString(
      *(*FindCodec("gzip"))->Decompress(answer.body(), 1 << 24)));
  EXPECT_EQ(response.payload_type(), "task.response");
}

TEST(CompressionTest, PeerThatAcceptsNothingGetsIdentity) {
  auto server = StartEcho();
  v1::CompressedEnvelope answer;
  ASSERT_TRUE(
      RawSendCompressed(*server,
                        Compressed(TaskRequest(VariedText(20000)), "gzip", ""),
                        &answer)
          .ok());
  EXPECT_EQ(answer.encoding(), "identity");
  v1::Envelope response;
  EXPECT_TRUE(response.ParseFromString(answer.body()));
}

TEST(CompressionTest, UnsupportedEncodingListsTheSupportedOnes) {
  auto server = StartEcho();
  v1::CompressedEnvelope request;
  request.set_encoding("zstd");
  request.set_body("whatever");
  v1::CompressedEnvelope answer;
  grpc::Status status = RawSendCompressed(*server, request, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("asap:transport/unsupported_encoding"));
  EXPECT_THAT(status.error_message(), HasSubstr("br, gzip"));
}

TEST(CompressionTest, CorruptBodyIsRejected) {
  auto server = StartEcho();
  for (const char* encoding : {"br", "gzip"}) {
    v1::CompressedEnvelope request =
        Compressed(TaskRequest(VariedText(5000)), encoding, "");
    std::string body = request.body();
    body.resize(body.size() / 2);  // truncated
    request.set_body(body);
    v1::CompressedEnvelope answer;
    grpc::Status status = RawSendCompressed(*server, request, &answer);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << encoding;
    EXPECT_THAT(status.error_message(),
                HasSubstr("asap:transport/corrupt_body"))
        << encoding;
  }
}

TEST(CompressionTest, BombOverTheLimitIsRejected) {
  auto server = StartEcho();  // 10 MB limit
  v1::CompressedEnvelope request;
  request.set_encoding("gzip");
  request.set_body(
      *(*FindCodec("gzip"))->Compress(std::string(40 << 20, '\0'), 1));
  ASSERT_LT(request.body().size(), 1u << 20);  // a small bomb...
  v1::CompressedEnvelope answer;
  grpc::Status status = RawSendCompressed(*server, request, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("asap:transport/payload_too_large"));
}

TEST(CompressionTest, DecompressedGarbageIsMalformed) {
  auto server = StartEcho();
  v1::CompressedEnvelope request;
  request.set_encoding("br");
  request.set_body(*(*FindCodec("br"))->Compress("\xff\xff\xff not protobuf"));
  v1::CompressedEnvelope answer;
  grpc::Status status = RawSendCompressed(*server, request, &answer);
  EXPECT_THAT(status.error_message(),
              HasSubstr("asap:protocol/malformed_envelope"));
}

TEST(CompressionTest, PlainSendResponsesUseGrpcGzipOnTheWire) {
  auto server = StartEcho();
  auto relay = *bench::ByteCountingRelay::Start("127.0.0.1", server->port());
  CompressionOptions plain;
  plain.threshold_bytes = 1 << 30;  // asap compression never applies
  auto client = ClientFor(relay->address(), plain);
  std::string text = VariedText(100000);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  // The request went uncompressed; the response came back gzipped by gRPC.
  EXPECT_GT(relay->client_to_server_bytes(), 100000u);
  EXPECT_LT(relay->server_to_client_bytes() * 2, 100000u);
}

TEST(CompressionTest, NoneMeansUncompressedBothWays) {
  auto server = StartEcho();
  auto relay = *bench::ByteCountingRelay::Start("127.0.0.1", server->port());
  CompressionOptions none;
  none.algorithm = "none";
  auto client = ClientFor(relay->address(), none);
  std::string text = VariedText(100000);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_GT(relay->client_to_server_bytes(), 100000u);
  EXPECT_GT(relay->server_to_client_bytes(), 100000u);
}

TEST(CompressionTest, ClientThatAcceptsNoCompressionStillGetsItsAnswer) {
  auto server = StartEcho();
  grpc::ChannelArguments args;
  // Identity only: grpc-accept-encoding no longer lists gzip.
  args.SetInt(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET, 1);
  auto channel = grpc::CreateCustomChannel(
      server->address(), grpc::InsecureChannelCredentials(), args);
  grpc::ClientContext context;
  v1::Envelope response;
  std::string text = VariedText(100000);
  grpc::Status status = v1::AsapService::NewStub(channel)->Send(
      &context, TaskRequest(text), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(EchoedText(response), text);
}

TEST(CompressionTest, BrotliShrinksWhatCrossesTheWire) {
  auto server = StartEcho();
  auto relay = *bench::ByteCountingRelay::Start("127.0.0.1", server->port());
  auto client = ClientFor(relay->address());
  std::string text = VariedText(100000);
  ASSERT_TRUE(client->Send(TaskRequest(text)).ok());
  EXPECT_LT(relay->client_to_server_bytes() * 2, 100000u);
  EXPECT_LT(relay->server_to_client_bytes() * 2, 100000u);
}

// A server with only Send (no SendCompressed), as an older or foreign ASAP
// gRPC server would be.
class SendOnlyService final : public v1::AsapService::Service {
 public:
  grpc::Status Send(grpc::ServerContext*, const v1::Envelope* request,
                    v1::Envelope* response) override {
    *response = *examples::EchoTask(*request, examples::EchoManifest("x"));
    return grpc::Status::OK;
  }
};

struct SendOnlyServer {
  SendOnlyServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~SendOnlyServer() { server->Shutdown(); }
  SendOnlyService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

TEST(CompressionTest, FallsBackToPlainSendWhenThePeerLacksSendCompressed) {
  SendOnlyServer send_only;
  int port = send_only.port;
  ClientOptions options;
  options.target = "127.0.0.1:" + std::to_string(port);
  options.validate_before_send = true;
  auto client = *AsapClient::Create(options);
  std::string text = VariedText(20000);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_TRUE(client->compression_stats().compression_refused);
}

// Waits for one SendAsync result.
absl::StatusOr<v1::Envelope> SendAsyncAndWait(AsapClient* client,
                                              v1::Envelope envelope) {
  absl::Notification done;
  absl::StatusOr<v1::Envelope> result;
  client->SendAsync(std::move(envelope), [&](absl::StatusOr<v1::Envelope> r) {
    result = std::move(r);
    done.Notify();
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  return result;
}

TEST(CompressionTest, SendAsyncCompressesLargeBodiesToo) {
  auto server = StartEcho();
  auto client = ClientFor(server->address());
  std::string text = VariedText(30000);
  absl::StatusOr<v1::Envelope> response =
      SendAsyncAndWait(client.get(), TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_EQ(client->compression_stats().requests_compressed, 1u);
  EXPECT_EQ(client->compression_stats().responses_compressed, 1u);
}

TEST(CompressionTest, SendAsyncFallsBackWhenThePeerLacksSendCompressed) {
  SendOnlyServer send_only;
  int port = send_only.port;
  auto client = ClientFor("127.0.0.1:" + std::to_string(port));
  std::string text = VariedText(20000);
  absl::StatusOr<v1::Envelope> response =
      SendAsyncAndWait(client.get(), TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_TRUE(client->compression_stats().compression_refused);
}

TEST(CompressionTest, InvalidOptionsAreRejected) {
  ClientOptions options;
  options.target = "127.0.0.1:1";
  options.compression.algorithm = "zstd";
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.compression.algorithm = "br";
  options.compression.level = 12;
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.compression.algorithm = "gzip";
  options.compression.level = 0;
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace asap
