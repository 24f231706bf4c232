// The JSON-RPC application of the HTTP binding, driven through a recording
// exchange (no sockets): the answers the Python tests cannot provoke from
// the outside (a failing handler, the memory quota, shutdown) and the SSE
// log's resume after a lost connection.
#include "server/http/json_rpc_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/dispatcher.h"
#include "server/metrics.h"
#include "server/nonce_store.h"
#include "tests/testing/echo_requests.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

// Records what the application answers. Write fails after `accept_writes`
// writes, as when the peer has gone.
class RecordingExchange : public HttpExchange {
 public:
  explicit RecordingExchange(int accept_writes = 1 << 30)
      : accept_writes_(accept_writes) {}

  void Respond(HttpResponse response) override {
    absl::MutexLock lock(&mu_);
    response_ = std::move(response);
    done_ = true;
  }
  void StartStream(int status, HttpHeaders headers) override {
    absl::MutexLock lock(&mu_);
    response_.status = status;
    response_.headers = std::move(headers);
  }
  bool Write(std::string data) override {
    absl::MutexLock lock(&mu_);
    if (accept_writes_-- <= 0) {
      cancelled_ = true;
      return false;
    }
    response_.body += data;
    return true;
  }
  void Finish() override {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  bool IsCancelled() const override {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // The complete answer (whole, or a finished stream); a failed test
  // expectation and what arrived when it takes longer than kWait.
  HttpResponse Await() {
    absl::MutexLock lock(&mu_);
    bool ok = mu_.AwaitWithTimeout(absl::Condition(&done_), kWait);
    EXPECT_TRUE(ok) << "no complete answer";
    return response_;
  }
  // Waits until the exchange refused a write (the "peer" went away).
  void AwaitCancelled() {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&cancelled_), kWait));
  }
  HttpResponse Snapshot() {
    absl::MutexLock lock(&mu_);
    return response_;
  }

 private:
  mutable absl::Mutex mu_;
  int accept_writes_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  HttpResponse response_ ABSL_GUARDED_BY(mu_);
};

std::string Header(const HttpResponse& response, absl::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

google::protobuf::Struct ParseObject(absl::string_view json) {
  google::protobuf::Struct out;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(std::string(json), &out).ok())
      << json;
  return out;
}

std::string EchoEnvelopeJson(absl::string_view payload_type = "task.request",
                             absl::string_view text = "hi") {
  if (payload_type == "echo.stream") {
    return absl::StrCat(
        R"({"asap_version":"0.1","sender":"urn:asap:agent:t",)"
        R"("recipient":"urn:asap:agent:echo","payload_type":"echo.stream",)"
        R"("payload":{"text":")",
        text, R"(","steps":5}})");
  }
  return absl::StrCat(R"({"asap_version":"0.1","sender":"urn:asap:agent:t",)"
                      R"("recipient":"urn:asap:agent:echo","payload_type":")",
                      payload_type,
                      R"(","payload":{"conversation_id":"c","skill_id":"echo",)"
                      R"("input":{"text":")",
                      text, R"("}}})");
}

std::string RpcBody(absl::string_view envelope) {
  return absl::StrCat(R"({"jsonrpc":"2.0","method":"asap.send","id":"r1",)",
                      R"("params":{"envelope":)", envelope, "}}");
}

HttpRequest Post(absl::string_view path, std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.target = std::string(path);
  request.headers.emplace_back("content-type", "application/json");
  request.body = std::move(body);
  request.peer = "ipv4:127.0.0.1:1";
  return request;
}

HttpRequest Get(absl::string_view path) {
  HttpRequest request;
  request.method = "GET";
  request.target = std::string(path);
  request.peer = "ipv4:127.0.0.1:1";
  return request;
}

// Event ids and data lines of an SSE body.
struct Event {
  std::string id;
  std::string type;
  std::string data;
};
std::vector<Event> ParseEvents(absl::string_view body) {
  std::vector<Event> events;
  for (absl::string_view block : absl::StrSplit(body, "\n\n")) {
    if (block.empty()) continue;
    Event event;
    for (absl::string_view line : absl::StrSplit(block, '\n')) {
      if (absl::ConsumePrefix(&line, "id: ")) event.id = std::string(line);
      if (absl::ConsumePrefix(&line, "event: ")) event.type = std::string(line);
      if (absl::ConsumePrefix(&line, "data: ")) event.data = std::string(line);
    }
    events.push_back(event);
  }
  return events;
}

class JsonRpcServiceTest : public ::testing::Test {
 protected:
  void Start(size_t memory_quota = 64 << 20) {
    handlers_ = asap::EchoHandlers();
    ASSERT_TRUE(handlers_
                    .Register("task.cancel",
                              [](const v1::Envelope&, const v1::Manifest&)
                                  -> absl::StatusOr<v1::Envelope> {
                                return AsapError(ErrorCode::kTaskNotFound,
                                                 "no such task");
                              })
                    .ok());
    manifest_ = asap::EchoManifest("127.0.0.1:1");
    nonces_ =
        std::make_unique<NonceStore>(absl::Minutes(6), NonceStoreOptions{});
    dispatcher_ = std::make_unique<EnvelopeDispatcher>(
        &manifest_, &handlers_, ValidationOptions{}, nonces_.get(),
        [] { return absl::Now(); });
    memory_ = std::make_unique<MemoryBudget>(memory_quota);
    workers_ = std::make_unique<WorkerPool>(4);
    dispatcher_->set_blocking_executor([this](std::function<void()> task) {
      workers_->Submit(std::move(task));
    });
    metrics_ = std::make_unique<ServerMetrics>(handlers_.payload_types());
    ServiceCore core;
    core.manifest = &manifest_;
    core.dispatcher = dispatcher_.get();
    core.memory = memory_.get();
    core.workers = workers_.get();
    core.metrics = metrics_.get();
    service_ = std::make_unique<JsonRpcService>(core, JsonRpcServiceOptions{});
  }
  void TearDown() override {
    if (workers_ != nullptr) workers_->Stop();
  }

  HttpResponse Call(HttpRequest request) {
    auto exchange = std::make_shared<RecordingExchange>();
    service_->Handle(std::move(request), exchange);
    return exchange->Await();
  }

  HandlerRegistry handlers_;
  v1::Manifest manifest_;
  std::unique_ptr<NonceStore> nonces_;
  std::unique_ptr<EnvelopeDispatcher> dispatcher_;
  std::unique_ptr<MemoryBudget> memory_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<JsonRpcService> service_;
};

TEST_F(JsonRpcServiceTest, SendAnswersWithTheResponseEnvelope) {
  Start();
  HttpResponse response = Call(Post("/asap", RpcBody(EchoEnvelopeJson())));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Header(response, "content-type"), "application/json");
  google::protobuf::Struct answer = ParseObject(response.body);
  EXPECT_EQ(answer.fields().at("id").string_value(), "r1");
  const auto& envelope =
      answer.fields().at("result").struct_value().fields().at("envelope");
  EXPECT_EQ(envelope.struct_value().fields().at("payload_type").string_value(),
            "task.response");
}

TEST_F(JsonRpcServiceTest, HandlerFailureIsInternalErrorForV1AndBandedForV2) {
  Start();
  std::string body = RpcBody(EchoEnvelopeJson("task.cancel"));
  body = absl::StrReplaceAll(
      body, {{R"("payload":{"conversation_id":"c","skill_id":"echo",)"
              R"("input":{"text":"hi"}})",
              R"("payload":{"task_id":"t1"})"}});
  HttpResponse v1 = Call(Post("/asap", body));
  EXPECT_THAT(v1.body, HasSubstr(R"("code":-32603)"));
  EXPECT_THAT(v1.body, HasSubstr(R"({"error":"Internal server error"})"));
  EXPECT_EQ(Header(v1, "asap-version"), "");

  HttpRequest request = Post("/asap", body);
  request.headers.emplace_back("asap-version", "2.2, 2.1");
  HttpResponse v2 = Call(std::move(request));
  EXPECT_EQ(Header(v2, "asap-version"), "2.2");
  EXPECT_THAT(v2.body, HasSubstr(R"("code":-32010)"));
  EXPECT_THAT(v2.body, HasSubstr(R"("code":"asap:task/not_found")"));
}

TEST_F(JsonRpcServiceTest, MemoryQuotaGives503) {
  Start(/*memory_quota=*/256);
  HttpResponse response = Call(Post("/asap", RpcBody(EchoEnvelopeJson())));
  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.body,
              HasSubstr(R"("code":"asap:transport/resource_exhausted")"));
  EXPECT_EQ(memory_->in_use(), 0u);
}

TEST_F(JsonRpcServiceTest, ReadyTurns503WhenNotServing) {
  Start();
  EXPECT_EQ(Call(Get("/ready")).status, 200);
  service_->set_serving(false);
  EXPECT_EQ(Call(Get("/ready")).status, 503);
  EXPECT_EQ(Call(Get("/health")).status, 200);
}

TEST_F(JsonRpcServiceTest, LargeResponsesAreCompressedAsAccepted) {
  Start();
  std::string text(4000, 'a');
  HttpRequest request =
      Post("/asap", RpcBody(EchoEnvelopeJson("task.request", text)));
  request.headers.emplace_back("accept-encoding", "gzip");
  HttpResponse response = Call(std::move(request));
  ASSERT_EQ(Header(response, "content-encoding"), "gzip");
  absl::StatusOr<std::string> json =
      (*FindCodec("gzip"))->Decompress(response.body, 1 << 20);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(text));

  // Without Accept-Encoding the answer is plain.
  response =
      Call(Post("/asap", RpcBody(EchoEnvelopeJson("task.request", text))));
  EXPECT_EQ(Header(response, "content-encoding"), "");
  EXPECT_THAT(response.body, HasSubstr(text));
}

TEST_F(JsonRpcServiceTest, ManifestHasAnEtagAndAnswers304) {
  Start();
  HttpResponse response = Call(Get("/.well-known/asap/manifest.json"));
  EXPECT_EQ(response.status, 200);
  std::string etag = Header(response, "etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_THAT(Header(response, "cache-control"), HasSubstr("max-age=300"));
  HttpRequest again = Get("/.well-known/asap/manifest.json");
  again.headers.emplace_back("if-none-match", absl::StrCat("W/", etag));
  HttpResponse not_modified = Call(std::move(again));
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_TRUE(not_modified.body.empty());
}

TEST_F(JsonRpcServiceTest, StreamSendsIntermediatesThenTheFinalEnvelope) {
  Start();
  HttpResponse response =
      Call(Post("/asap/stream", RpcBody(EchoEnvelopeJson("echo.stream"))));
  EXPECT_EQ(Header(response, "content-type"), "text/event-stream");
  std::vector<Event> events = ParseEvents(response.body);
  ASSERT_EQ(events.size(), 6u) << response.body;
  for (size_t i = 0; i < events.size(); ++i) {
    google::protobuf::Struct envelope = ParseObject(events[i].data);
    const auto& payload = envelope.fields().at("payload").struct_value();
    EXPECT_EQ(payload.fields().at("final").bool_value(), i == 5) << i;
    EXPECT_EQ(envelope.fields().at("payload_type").string_value(),
              i == 5 ? "task.response" : "task.update");
    EXPECT_FALSE(events[i].id.empty());
  }
}

TEST_F(JsonRpcServiceTest, PlainHandlerAnswersAStreamWithOneFinalEvent) {
  Start();
  HttpResponse response =
      Call(Post("/asap/stream", RpcBody(EchoEnvelopeJson())));
  std::vector<Event> events = ParseEvents(response.body);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].data, HasSubstr(R"("final":true)"));
}

TEST_F(JsonRpcServiceTest, DispatchErrorOnAStreamIsAnErrorEvent) {
  Start();
  HttpResponse response =
      Call(Post("/asap/stream", RpcBody(EchoEnvelopeJson("no.such.type"))));
  std::vector<Event> events = ParseEvents(response.body);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "error");
  EXPECT_THAT(events[0].data, HasSubstr(R"("code":-32601)"));
}

TEST_F(JsonRpcServiceTest, LostConnectionResumesWithoutLossOrRepeat) {
  Start();
  // The first connection takes two events, then its peer is gone.
  auto first = std::make_shared<RecordingExchange>(/*accept_writes=*/2);
  service_->Handle(
      Post("/asap/stream", RpcBody(EchoEnvelopeJson("echo.stream"))), first);
  first->AwaitCancelled();
  std::vector<Event> seen = ParseEvents(first->Snapshot().body);
  ASSERT_EQ(seen.size(), 2u);

  HttpRequest resume = Get("/asap/stream");
  resume.headers.emplace_back("last-event-id", seen[1].id);
  HttpResponse rest = Call(std::move(resume));
  std::vector<Event> events = ParseEvents(rest.body);
  ASSERT_EQ(events.size(), 4u) << rest.body;
  for (const Event& event : events) {
    EXPECT_NE(event.id, seen[0].id);
    EXPECT_NE(event.id, seen[1].id);
  }
  EXPECT_THAT(events.back().data, HasSubstr(R"("final":true)"));

  // Resuming from the start replays all six.
  std::string stream_id = seen[0].id.substr(0, seen[0].id.rfind('-'));
  HttpRequest replay = Get("/asap/stream");
  replay.headers.emplace_back("last-event-id", absl::StrCat(stream_id, "-0"));
  EXPECT_EQ(ParseEvents(Call(std::move(replay)).body).size(), 6u);

  HttpRequest unknown = Get("/asap/stream");
  unknown.headers.emplace_back("last-event-id",
                               "00000000000000000000000000000000-1");
  EXPECT_EQ(Call(std::move(unknown)).status, 404);
}

TEST_F(JsonRpcServiceTest, MetricsRouteCountsHttpRequests) {
  Start();
  Call(Post("/asap", RpcBody(EchoEnvelopeJson())));
  Call(Post("/asap", RpcBody(EchoEnvelopeJson("no.such.type"))));
  HttpResponse metrics = Call(Get("/asap/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(Header(metrics, "content-type"), HasSubstr("text/plain"));
  EXPECT_THAT(metrics.body, HasSubstr("binding=\"http\""));
  EXPECT_THAT(metrics.body, HasSubstr("asap:transport/handler_not_found"));
}

TEST_F(JsonRpcServiceTest, RoutesAndMethods) {
  Start();
  EXPECT_EQ(Call(Get("/nope")).status, 404);
  HttpResponse wrong = Call(Get("/asap"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(Header(wrong, "allow"), "POST");
}

}  // namespace
}  // namespace asap
