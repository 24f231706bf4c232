// Compression end to end: AsapClient <-> AsapServer over 127.0.0.1:0, raw
// SendCompressed calls for the error cases, a byte-counting relay to see what
// really crosses the wire, and a scripted test server to see exactly which
// RPCs the client makes.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/compression/codec.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "benchmarks/relay/byte_counting_relay.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/test_client.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(30);

// What an asap server advertises in `asap-accept-encoding`.
constexpr char kServerEncodings[] = "br, gzip";

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
  v1::Envelope envelope =
      asap::testing::EchoRequest(text, "urn:asap:agent:tester");
  FillEnvelopeDefaults(&envelope, absl::Now());
  return envelope;
}

using asap::testing::EchoedText;

// Counts the calls that reach a server, by method ("Send", "SendCompressed").
class MethodCounter : public std::enable_shared_from_this<MethodCounter> {
 public:
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  MakeInterceptorFactory() {
    return std::make_unique<Factory>(shared_from_this());
  }

  int calls(const std::string& method) const {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find("/asap.v1.AsapService/" + method);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  class Interceptor : public grpc::experimental::Interceptor {
   public:
    Interceptor(std::shared_ptr<MethodCounter> counter, std::string method)
        : counter_(std::move(counter)), method_(std::move(method)) {}
    void Intercept(
        grpc::experimental::InterceptorBatchMethods* methods) override {
      if (methods->QueryInterceptionHookPoint(
              grpc::experimental::InterceptionHookPoints::
                  POST_RECV_INITIAL_METADATA)) {
        absl::MutexLock lock(&counter_->mu_);
        ++counter_->calls_[method_];
      }
      methods->Proceed();
    }

   private:
    std::shared_ptr<MethodCounter> counter_;
    std::string method_;
  };

  class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
   public:
    explicit Factory(std::shared_ptr<MethodCounter> counter)
        : counter_(std::move(counter)) {}
    grpc::experimental::Interceptor* CreateServerInterceptor(
        grpc::experimental::ServerRpcInfo* info) override {
      return new Interceptor(counter_, info->method());
    }

   private:
    std::shared_ptr<MethodCounter> counter_;
  };

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

struct Agent {
  std::shared_ptr<MethodCounter> methods = std::make_shared<MethodCounter>();
  std::unique_ptr<AsapServer> server;
};

Agent StartAgent(HandlerRegistry handlers = asap::EchoHandlers()) {
  Agent agent;
  ServerOptions options;
  options.manifest = asap::EchoManifest("");
  options.interceptors.push_back(agent.methods->MakeInterceptorFactory());
  auto server = AsapServer::Start(std::move(options), std::move(handlers));
  EXPECT_TRUE(server.ok()) << server.status();
  if (server.ok()) agent.server = *std::move(server);
  return agent;
}

std::unique_ptr<AsapServer> StartEcho() { return StartAgent().server; }

std::unique_ptr<AsapClient> ClientFor(const std::string& target,
                                      CompressionOptions compression = {}) {
  ClientOptions options;
  options.target = target;
  options.timeout = kWaitBound;
  options.compression = compression;
  return *AsapClient::Create(options);
}

// A small call, whose answer tells the client what the server decodes.
bool LearnEncodings(AsapClient* client) {
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest("hello"));
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() &&
         client->compression_stats().server_encodings == kServerEncodings;
}

// Waits for one SendAsync result.
absl::StatusOr<v1::Envelope> SendAsyncAndWait(AsapClient* client,
                                              v1::Envelope envelope) {
  testing::AsyncAnswer answer;
  client->SendAsync(std::move(envelope), answer.Callback());
  if (!answer.WaitFor(kWaitBound)) {
    return absl::DeadlineExceededError("SendAsync did not call back");
  }
  return answer.result();
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

TEST(CompressionTest, LargeBodyGoesPlainUntilTheServerHasAdvertised) {
  Agent agent = StartAgent();
  auto client = ClientFor(agent.server->address());
  EXPECT_EQ(client->compression_stats().server_encodings, "");
  std::string text = VariedText(20000);
  absl::StatusOr<v1::Envelope> first = client->Send(TaskRequest(text));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(EchoedText(*first), text);
  EXPECT_EQ(agent.methods->calls("Send"), 1);
  EXPECT_EQ(agent.methods->calls("SendCompressed"), 0);
  EXPECT_EQ(client->compression_stats().requests_compressed, 0u);
  // That answer advertised what the server decodes: now it goes compressed.
  EXPECT_EQ(client->compression_stats().server_encodings, kServerEncodings);
  absl::StatusOr<v1::Envelope> second = client->Send(TaskRequest(text));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(EchoedText(*second), text);
  EXPECT_EQ(agent.methods->calls("Send"), 1);
  EXPECT_EQ(agent.methods->calls("SendCompressed"), 1);
  EXPECT_EQ(client->compression_stats().requests_compressed, 1u);
}

TEST(CompressionTest, BrotliBothWays) {
  auto server = StartEcho();
  auto client = ClientFor(server->address());  // br, accepts br and gzip
  ASSERT_TRUE(LearnEncodings(client.get()));
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
  gzip.algorithm = Compression::kGzip;
  gzip.accept_encoding = {Compression::kGzip};
  auto client = ClientFor(server->address(), gzip);
  ASSERT_TRUE(LearnEncodings(client.get()));
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
  none.algorithm = Compression::kNone;
  auto client = ClientFor(relay->address(), none);
  ASSERT_TRUE(LearnEncodings(client.get()));  // advertised, yet not used
  relay->Reset();
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
  ASSERT_TRUE(LearnEncodings(client.get()));
  relay->Reset();
  std::string text = VariedText(100000);
  ASSERT_TRUE(client->Send(TaskRequest(text)).ok());
  EXPECT_LT(relay->client_to_server_bytes() * 2, 100000u);
  EXPECT_LT(relay->server_to_client_bytes() * 2, 100000u);
}

TEST(CompressionTest, SendAsyncCompressesLargeBodiesToo) {
  auto server = StartEcho();
  auto client = ClientFor(server->address());
  ASSERT_TRUE(LearnEncodings(client.get()));
  std::string text = VariedText(30000);
  absl::StatusOr<v1::Envelope> response =
      SendAsyncAndWait(client.get(), TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_EQ(client->compression_stats().requests_compressed, 1u);
  EXPECT_EQ(client->compression_stats().responses_compressed, 1u);
}

TEST(CompressionTest, HandlerReturningUnimplementedRunsOnceAndItsErrorIsKept) {
  std::atomic<int> handler_calls{0};
  HandlerRegistry handlers;
  ASSERT_TRUE(
      handlers
          .Register("task.request",
                    [&handler_calls](const v1::Envelope&, const v1::Manifest&)
                        -> absl::StatusOr<v1::Envelope> {
                      ++handler_calls;
                      return absl::UnimplementedError(
                          "task.request is switched off");
                    })
          .ok());
  Agent agent = StartAgent(std::move(handlers));
  auto client = ClientFor(agent.server->address());
  std::string text = VariedText(20000);
  auto expect_handler_error = [](const absl::StatusOr<v1::Envelope>& r) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("switched off"));
  };
  // Nothing advertised yet: plain Send.
  expect_handler_error(client->Send(TaskRequest(text)));
  EXPECT_EQ(handler_calls, 1);
  // The error answer advertised the encodings too: now SendCompressed, whose
  // UNIMPLEMENTED is the handler's and must not make the client send again.
  EXPECT_EQ(client->compression_stats().server_encodings, kServerEncodings);
  expect_handler_error(client->Send(TaskRequest(text)));
  EXPECT_EQ(handler_calls, 2);
  expect_handler_error(SendAsyncAndWait(client.get(), TaskRequest(text)));
  EXPECT_EQ(handler_calls, 3);
  EXPECT_EQ(agent.methods->calls("Send"), 1);
  EXPECT_EQ(agent.methods->calls("SendCompressed"), 2);
  // Still advertised: compression goes on for later calls.
  EXPECT_EQ(client->compression_stats().server_encodings, kServerEncodings);
}

TEST(CompressionTest, SendBatchAnswerTeachesTheEncodingsToo) {
  auto server = StartEcho();
  auto client = ClientFor(server->address());
  std::vector<v1::Envelope> envelopes;
  envelopes.push_back(TaskRequest("a"));
  envelopes.push_back(TaskRequest("b"));
  ASSERT_TRUE(client->SendBatch(std::move(envelopes)).ok());
  EXPECT_EQ(client->compression_stats().server_encodings, kServerEncodings);
}

TEST(CompressionTest, UncachedGetManifestAnswerTeachesTheEncodingsToo) {
  auto server = StartEcho();
  ClientOptions options;
  options.target = server->address();
  options.manifest_cache.enabled = false;  // a real GetManifest call
  auto client = *AsapClient::Create(options);
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(client->compression_stats().server_encodings, kServerEncodings);
}

// A test-only AsapService: answers Send and SendCompressed like the echo
// agent, advertises what the test tells it to, and counts what it gets, so a
// test sees exactly which RPCs the client made.
class ScriptedService final : public v1::AsapService::Service {
 public:
  // The `asap-accept-encoding` value sent with every answer; nullopt: none.
  void Advertise(std::optional<std::string> encodings) {
    absl::MutexLock lock(&mu_);
    advertised_ = std::move(encodings);
  }
  // Every SendCompressed fails with `status` (as a server lacking the method
  // does, for instance).
  void FailSendCompressed(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    compressed_failure_ = std::move(status);
  }
  int sends() const {
    absl::MutexLock lock(&mu_);
    return sends_;
  }
  int compressed_sends() const {
    absl::MutexLock lock(&mu_);
    return compressed_sends_;
  }
  std::string last_encoding() const {
    absl::MutexLock lock(&mu_);
    return last_encoding_;
  }

  grpc::Status Send(grpc::ServerContext* context, const v1::Envelope* request,
                    v1::Envelope* response) override {
    {
      absl::MutexLock lock(&mu_);
      ++sends_;
      AdvertiseLocked(context);
    }
    *response = *asap::EchoTask(*request, asap::EchoManifest("x"));
    return grpc::Status::OK;
  }

  grpc::Status SendCompressed(grpc::ServerContext* context,
                              const v1::CompressedEnvelope* request,
                              v1::CompressedEnvelope* answer) override {
    {
      absl::MutexLock lock(&mu_);
      ++compressed_sends_;
      last_encoding_ = request->encoding();
      AdvertiseLocked(context);
      if (compressed_failure_.has_value()) return *compressed_failure_;
    }
    absl::StatusOr<const CompressionCodec*> codec =
        FindCodec(request->encoding());
    if (!codec.ok()) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
    absl::StatusOr<std::string> bytes =
        (*codec)->Decompress(request->body(), 1 << 24);
    v1::Envelope envelope;
    if (!bytes.ok() || !envelope.ParseFromString(*bytes)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad body");
    }
    answer->set_encoding(std::string(kIdentityEncoding));
    answer->set_body(
        asap::EchoTask(envelope, asap::EchoManifest("x"))->SerializeAsString());
    return grpc::Status::OK;
  }

 private:
  void AdvertiseLocked(grpc::ServerContext* context)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (advertised_.has_value()) {
      context->AddInitialMetadata("asap-accept-encoding", *advertised_);
    }
  }

  mutable absl::Mutex mu_;
  std::optional<std::string> advertised_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> compressed_failure_ ABSL_GUARDED_BY(mu_);
  int sends_ ABSL_GUARDED_BY(mu_) = 0;
  int compressed_sends_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_encoding_ ABSL_GUARDED_BY(mu_);
};

struct ScriptedServer {
  ScriptedServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  ~ScriptedServer() { server->Shutdown(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port); }

  ScriptedService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

TEST(CompressionTest, PeerThatAdvertisesNothingOnlyEverGetsPlainSend) {
  ScriptedServer scripted;  // like an older or foreign ASAP gRPC server
  auto client = ClientFor(scripted.target());
  std::string text = VariedText(20000);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(EchoedText(*response), text);
  }
  absl::StatusOr<v1::Envelope> async =
      SendAsyncAndWait(client.get(), TaskRequest(text));
  ASSERT_TRUE(async.ok()) << async.status();
  EXPECT_EQ(EchoedText(*async), text);
  EXPECT_EQ(scripted.service.sends(), 4);
  EXPECT_EQ(scripted.service.compressed_sends(), 0);
  EXPECT_EQ(client->compression_stats().server_encodings, "");
}

TEST(CompressionTest, UsesAnotherAdvertisedEncodingWhenTheConfiguredOneIsNot) {
  ScriptedServer scripted;
  scripted.service.Advertise("gzip");
  auto client = ClientFor(scripted.target());  // algorithm br
  std::string text = VariedText(20000);
  ASSERT_TRUE(client->Send(TaskRequest(text)).ok());  // learns
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest(text));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), text);
  EXPECT_EQ(scripted.service.compressed_sends(), 1);
  EXPECT_EQ(scripted.service.last_encoding(), "gzip");
}

TEST(CompressionTest, OnlyUnknownEncodingsAdvertisedMeansPlainSend) {
  ScriptedServer scripted;
  scripted.service.Advertise("zstd, identity, br;q=0");
  auto client = ClientFor(scripted.target());
  std::string text = VariedText(20000);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client->Send(TaskRequest(text)).ok());
  EXPECT_EQ(scripted.service.sends(), 2);
  EXPECT_EQ(scripted.service.compressed_sends(), 0);
}

TEST(CompressionTest, FailedSendCompressedIsReturnedAsIsAndNeverResent) {
  ScriptedServer scripted;
  scripted.service.Advertise(kServerEncodings);
  scripted.service.FailSendCompressed(
      grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no SendCompressed here"));
  auto client = ClientFor(scripted.target());
  std::string text = VariedText(20000);
  ASSERT_TRUE(client->Send(TaskRequest(text)).ok());  // plain; learns
  ASSERT_EQ(scripted.service.sends(), 1);

  absl::StatusOr<v1::Envelope> sync = client->Send(TaskRequest(text));
  EXPECT_EQ(sync.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(sync.status().message()),
              HasSubstr("no SendCompressed here"));
  absl::StatusOr<v1::Envelope> async =
      SendAsyncAndWait(client.get(), TaskRequest(text));
  EXPECT_EQ(async.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(async.status().message()),
              HasSubstr("no SendCompressed here"));

  EXPECT_EQ(scripted.service.compressed_sends(), 2);
  EXPECT_EQ(scripted.service.sends(), 1);  // nothing was sent a second time
}

TEST(CompressionTest, PlainAnswerWithoutAdvertisementStopsCompression) {
  ScriptedServer scripted;
  scripted.service.Advertise(kServerEncodings);
  auto client = ClientFor(scripted.target());
  ASSERT_TRUE(client->Send(TaskRequest("hello")).ok());
  EXPECT_EQ(client->compression_stats().server_encodings, kServerEncodings);
  // The target now answers without advertising (replaced by an older
  // server, say): the client stops compressing instead of failing.
  scripted.service.Advertise(std::nullopt);
  ASSERT_TRUE(client->Send(TaskRequest("hello")).ok());
  EXPECT_EQ(client->compression_stats().server_encodings, "");
  ASSERT_TRUE(client->Send(TaskRequest(VariedText(20000))).ok());
  EXPECT_EQ(scripted.service.compressed_sends(), 0);
}

TEST(CompressionTest, InvalidOptionsAreRejected) {
  ClientOptions options;
  options.target = "127.0.0.1:1";
  options.compression.algorithm = static_cast<Compression>(42);
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.compression.algorithm = Compression::kBrotli;
  options.compression.accept_encoding = {static_cast<Compression>(42)};
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.compression.accept_encoding = {Compression::kBrotli};
  options.compression.level = 12;
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.compression.algorithm = Compression::kGzip;
  options.compression.level = 0;
  EXPECT_EQ(AsapClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace asap
