#include "server/http/json_rpc_service.h"

#include <zlib.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "server/metrics.h"

namespace asap {
namespace {

constexpr absl::string_view kJsonType = "application/json";
constexpr absl::string_view kBinding = "http";
// Response compression: brotli quality 4 and gzip level 6, what the
// reference client itself uses for requests.
constexpr int kBrotliResponseQuality = 4;
constexpr int kGzipResponseLevel = 6;

HttpResponse Plain(int status, std::string body,
                   absl::string_view content_type = kJsonType) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", std::string(content_type));
  response.body = std::move(body);
  return response;
}

// Decodes the request body by its Content-Encoding, with `limit` on the
// decoded bytes. On failure `*error` is the binding's answer: 415 for an
// encoding it does not take, 413 past the limit, 400 for a corrupt body.
bool DecodeBody(const HttpRequest& request, size_t limit, std::string* out,
                HttpResponse* error) {
  std::string encoding = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      request.header("content-encoding").value_or("identity")));
  if (encoding.empty() || encoding == kIdentityEncoding) {
    if (request.body.size() > limit) {
      *error = Plain(413, DetailBody(absl::StrCat(
                              "Request body too large: ", request.body.size(),
                              " bytes (limit ", limit, ")")));
      return false;
    }
    *out = request.body;
    return true;
  }
  if (encoding != kGzipEncoding && encoding != kBrotliEncoding) {
    *error = Plain(
        415, DetailBody(absl::StrCat("Unsupported Content-Encoding: ",
                                     absl::string_view(encoding).substr(0, 64),
                                     " (supported: gzip, br, identity)")));
    return false;
  }
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
  absl::StatusOr<std::string> decoded =
      codec.ok() ? (*codec)->Decompress(request.body, limit) : codec.status();
  if (decoded.ok()) {
    *out = *std::move(decoded);
    return true;
  }
  if (ErrorCodeOf(decoded.status()) == ErrorCode::kPayloadTooLarge) {
    *error = Plain(413, DetailBody(absl::StrCat(
                            "Request body too large after decompression "
                            "(limit ",
                            limit, " bytes)")));
  } else {
    *error = Plain(400, DetailBody(absl::StrCat(
                            "Request body does not decompress as ", encoding,
                            ": ", decoded.status().message())));
  }
  return false;
}

// A stable entity tag (the same on every replica): length and CRC-32.
std::string EntityTag(absl::string_view body) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()),
              static_cast<uInt>(body.size()));
  return absl::StrFormat("\"%x-%08x\"", body.size(), crc);
}

// True when an If-None-Match header names `etag` (or is "*"). Weak
// validators match too (RFC 9110 weak comparison).
bool MatchesEtag(absl::string_view if_none_match, absl::string_view etag) {
  for (absl::string_view candidate : absl::StrSplit(if_none_match, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (candidate == "*") return true;
    if (absl::StartsWith(candidate, "W/")) candidate.remove_prefix(2);
    if (candidate == etag) return true;
  }
  return false;
}

void FillContext(const HttpRequest& request,
                 const std::shared_ptr<HttpExchange>& exchange,
                 std::string identity, HandlerContext* context) {
  context->set_binding(kBinding);
  context->set_peer(request.peer);
  context->set_identity(std::move(identity));
  for (const auto& [name, value] : request.headers) {
    // The caller's credentials stay with the server: a handler that passed
    // its metadata on would replay them.
    if (name == "authorization") continue;
    context->add_metadata(name, value);
  }
  std::weak_ptr<HttpExchange> weak = exchange;
  context->set_cancellation_check([weak] {
    std::shared_ptr<HttpExchange> alive = weak.lock();
    return alive == nullptr || alive->IsCancelled();
  });
}

std::string Outcome(const absl::Status& status) {
  if (status.ok()) return "ok";
  return std::string(
      ErrorCodeName(ErrorCodeOf(status).value_or(ErrorCode::kInternal)));
}

}  // namespace

// The 503 of an overloaded server, in the reference's shape.
HttpResponse Busy(absl::string_view message) {
  HttpResponse response = Plain(
      503, absl::StrCat("{\"error\":\"Service Unavailable\",\"code\":",
                        JsonQuote(ErrorCodeName(ErrorCode::kResourceExhausted)),
                        ",\"message\":", JsonQuote(message), "}"));
  response.headers.emplace_back("retry-after", "1");
  return response;
}

struct JsonRpcService::RpcCall {
  HttpRequest request;
  std::shared_ptr<HttpExchange> exchange;
  ProtocolVersion version;
  absl::Time start;
  std::optional<ServerMetrics::InFlight> in_flight;
  BodyHold hold;
  std::unique_ptr<HandlerContext> context;
  JsonRpcBody body;
  std::vector<std::string> answers;
  int http_status = 200;
  std::string http_body;
  HttpHeaders http_headers;
  std::atomic<size_t> pending{0};
};

struct JsonRpcService::StreamCall {
  HttpRequest request;
  std::shared_ptr<HttpExchange> exchange;
  ProtocolVersion version;
  absl::Time start;
  BodyHold hold;
  std::unique_ptr<HandlerContext> context;
  JsonRpcItem item;
  std::string stream_id;
};

// Subscriptions whose delivery is over. They cannot be destroyed where
// that is found out, inside the log's callbacks (which must not call into the
// log), so they wait here until the next request, or the service's end.
class JsonRpcService::ReleaseQueue {
 public:
  void Add(std::unique_ptr<StreamLog::Subscription> subscription) {
    absl::MutexLock lock(&mu_);
    done_.push_back(std::move(subscription));
  }
  // Destroys the subscriptions queued; call with no log lock held.
  void Drain() {
    std::vector<std::unique_ptr<StreamLog::Subscription>> done;
    {
      absl::MutexLock lock(&mu_);
      if (done_.empty()) return;
      done.swap(done_);
    }
  }

 private:
  absl::Mutex mu_;
  std::vector<std::unique_ptr<StreamLog::Subscription>> done_
      ABSL_GUARDED_BY(mu_);
};

// Carries a stream's events from the log to one HTTP response. Events that
// arrive before the response has started are held until it has.
class StreamDelivery {
 public:
  StreamDelivery(std::shared_ptr<HttpExchange> exchange,
                 std::shared_ptr<JsonRpcService::ReleaseQueue> releases)
      : exchange_(std::move(exchange)), releases_(std::move(releases)) {}

  void OnEvent(absl::string_view event_id, absl::string_view event) {
    std::string text = absl::StrCat("id: ", event_id, "\n", event, "\n\n");
    absl::MutexLock lock(&mu_);
    if (detached_) return;
    if (!started_) {
      held_.push_back(std::move(text));
      return;
    }
    Send(std::move(text));
  }
  void OnEnd() {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    if (started_ && !detached_) exchange_->Finish();
    Release();
  }
  // Starts the response and flushes what arrived before it.
  void Start(HttpHeaders headers,
             std::unique_ptr<StreamLog::Subscription> subscription) {
    absl::MutexLock lock(&mu_);
    subscription_ = std::move(subscription);
    started_ = true;
    exchange_->StartStream(200, std::move(headers));
    for (std::string& text : held_) {
      if (detached_) break;
      Send(std::move(text));
    }
    held_.clear();
    if (ended_ && !detached_) exchange_->Finish();
    if (ended_ || detached_) Release();
  }

 private:
  void Send(std::string text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!exchange_->Write(std::move(text))) {
      // The client is gone or does not read: the events stay in the log for
      // a resume; this delivery stops.
      detached_ = true;
      Release();
    }
  }
  // Hands the subscription over to be dropped outside the log's callbacks.
  void Release() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (subscription_ != nullptr) releases_->Add(std::move(subscription_));
  }

  const std::shared_ptr<HttpExchange> exchange_;
  const std::shared_ptr<JsonRpcService::ReleaseQueue> releases_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<StreamLog::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
};

JsonRpcService::JsonRpcService(ServiceCore core, JsonRpcServiceOptions options)
    : core_(core),
      options_(std::move(options)),
      manifest_json_(ToJson(*core_.manifest)),
      manifest_etag_(EntityTag(manifest_json_)),
      stream_log_(options_.stream_log),
      releases_(std::make_shared<ReleaseQueue>()) {}

JsonRpcService::~JsonRpcService() { releases_->Drain(); }

void JsonRpcService::Handle(HttpRequest request,
                            std::shared_ptr<HttpExchange> exchange) {
  releases_->Drain();
  absl::string_view path = request.path();
  const std::string& method = request.method;
  auto not_allowed = [&](absl::string_view allow) {
    HttpResponse response = Plain(405, DetailBody("Method Not Allowed"));
    response.headers.emplace_back("allow", std::string(allow));
    exchange->Respond(std::move(response));
  };
  if (path == "/asap") {
    if (method != "POST") return not_allowed("POST");
    return HandleRpc(std::move(request), std::move(exchange));
  }
  if (path == "/asap/stream") {
    if (method != "POST" && method != "GET") return not_allowed("GET, POST");
    return HandleStream(std::move(request), std::move(exchange));
  }
  if (path == "/.well-known/asap/manifest.json") {
    if (method != "GET" && method != "HEAD") return not_allowed("GET, HEAD");
    return HandleManifest(request, *exchange);
  }
  if (path == "/health" || path == "/ready" ||
      path == "/.well-known/asap/health") {
    if (method != "GET" && method != "HEAD") return not_allowed("GET, HEAD");
    if (path == "/ready" && !serving_.load()) {
      return exchange->Respond(Plain(503, "{\"status\":\"shutting_down\"}"));
    }
    return exchange->Respond(Plain(200, "{\"status\":\"ok\"}"));
  }
  if (path == "/asap/metrics") {
    if (method != "GET") return not_allowed("GET");
    if (core_.metrics == nullptr) {
      return exchange->Respond(Plain(404, DetailBody("Not Found")));
    }
    // With authentication on, the metrics (payload types, peers' traffic)
    // are for authenticated callers only.
    if (absl::StatusOr<std::string> identity = Authenticate(request);
        !identity.ok()) {
      HttpResponse refused =
          Plain(401, DetailBody(identity.status().message()));
      refused.headers.emplace_back("www-authenticate", kWwwAuthenticate);
      return exchange->Respond(std::move(refused));
    }
    return Answer(*exchange, request, ProtocolVersion{}, 200,
                  "text/plain; version=0.0.4; charset=utf-8",
                  core_.metrics->RenderPrometheus());
  }
  exchange->Respond(Plain(404, DetailBody("Not Found")));
}

void JsonRpcService::Answer(HttpExchange& exchange, const HttpRequest& request,
                            const ProtocolVersion& version, int status,
                            absl::string_view content_type, std::string body,
                            bool batch) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", std::string(content_type));
  if (version.is_v2())
    response.headers.emplace_back("asap-version", version.v2);
  size_t decoded_bytes = body.size();
  if (body.size() >= core_.compression_threshold_bytes) {
    response.headers.emplace_back("vary", "accept-encoding");
    std::string encoding =
        NegotiateEncoding(request.header("accept-encoding").value_or(""));
    if (encoding != kIdentityEncoding) {
      absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
      if (codec.ok()) {
        // A batch's answer favours speed over size, as gRPC batch frames
        // do.
        const int level = batch ? kStreamCompressionLevel
                          : encoding == kBrotliEncoding ? kBrotliResponseQuality
                                                        : kGzipResponseLevel;
        absl::StatusOr<std::string> compressed =
            (*codec)->Compress(body, level);
        if (compressed.ok() && compressed->size() < body.size()) {
          body = *std::move(compressed);
          response.headers.emplace_back("content-encoding", encoding);
        }
      }
    }
  }
  if (core_.metrics != nullptr) {
    core_.metrics->RecordBytes(kBinding, ServerMetrics::Direction::kOut,
                               body.size(), decoded_bytes);
  }
  response.body = std::move(body);
  exchange.Respond(std::move(response));
}

absl::StatusOr<std::string> JsonRpcService::Authenticate(
    const HttpRequest& request) const {
  if (core_.authenticator == nullptr || !core_.authenticator->enabled()) {
    return std::string();
  }
  CallCredentials credentials;
  credentials.authorization = request.header("authorization");
  credentials.certificate_uris = request.peer_certificate_uris;
  return core_.authenticator->Authenticate(credentials);
}

void JsonRpcService::RefuseUnauthenticated(HttpExchange& exchange,
                                           const HttpRequest& request,
                                           const ProtocolVersion& version,
                                           const absl::Status& status,
                                           absl::string_view id_json) {
  if (core_.metrics != nullptr) {
    core_.metrics->RecordEnvelope(kBinding, "", Outcome(status),
                                  absl::ZeroDuration());
  }
  JsonRpcError error;
  error.code = kJsonRpcInvalidRequest;
  error.message = "Invalid Request";
  error.data_json = absl::StrCat(
      "{\"error\":", JsonQuote(status.message()), ",\"code\":",
      JsonQuote(ErrorCodeName(
          ErrorCodeOf(status).value_or(ErrorCode::kUnauthenticated))),
      ",\"status_code\":401}");
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("content-type", std::string(kJsonType));
  response.headers.emplace_back("www-authenticate", kWwwAuthenticate);
  if (version.is_v2())
    response.headers.emplace_back("asap-version", version.v2);
  response.body = JsonRpcErrorResponse(error, id_json);
  exchange.Respond(std::move(response));
}

void JsonRpcService::HandleManifest(const HttpRequest& request,
                                    HttpExchange& exchange) {
  std::string cache_control = absl::StrCat(
      "public, max-age=", absl::ToInt64Seconds(options_.manifest_max_age));
  std::optional<absl::string_view> if_none_match =
      request.header("if-none-match");
  if (if_none_match.has_value() &&
      MatchesEtag(*if_none_match, manifest_etag_)) {
    HttpResponse response;
    response.status = 304;
    response.headers.emplace_back("etag", manifest_etag_);
    response.headers.emplace_back("cache-control", cache_control);
    exchange.Respond(std::move(response));
    return;
  }
  HttpResponse response = Plain(200, manifest_json_);
  response.headers.emplace_back("etag", manifest_etag_);
  response.headers.emplace_back("cache-control", std::move(cache_control));
  if (manifest_json_.size() >= core_.compression_threshold_bytes) {
    response.headers.emplace_back("vary", "accept-encoding");
    std::string encoding =
        NegotiateEncoding(request.header("accept-encoding").value_or(""));
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
    if (codec.ok()) {
      absl::StatusOr<std::string> compressed = (*codec)->Compress(
          manifest_json_, encoding == kBrotliEncoding ? kBrotliResponseQuality
                                                      : kGzipResponseLevel);
      if (compressed.ok() && compressed->size() < manifest_json_.size()) {
        response.body = *std::move(compressed);
        response.headers.emplace_back("content-encoding", encoding);
      }
    }
  }
  exchange.Respond(std::move(response));
}

std::optional<JsonRpcBody> JsonRpcService::ReadBody(
    HttpRequest& request, HttpExchange& exchange,
    const ProtocolVersion& version, size_t max_batch_items, BodyHold* hold) {
  // What the body may cost, reserved before it is allocated: the received
  // and decoded bytes, then the parsed document and its envelopes (about
  // three times the text).
  absl::StatusOr<MemoryBudget::Reservation> held =
      core_.memory->Reserve(request.body.size() * 2);
  if (!held.ok()) {
    exchange.Respond(Busy("server at its memory quota"));
    return std::nullopt;
  }
  hold->received = *std::move(held);
  std::string decoded;
  HttpResponse error;
  if (!DecodeBody(request, core_.max_message_bytes, &decoded, &error)) {
    exchange.Respond(std::move(error));
    return std::nullopt;
  }
  if (core_.metrics != nullptr) {
    core_.metrics->RecordBytes(kBinding, ServerMetrics::Direction::kIn,
                               request.body.size(), decoded.size());
  }
  request.body.clear();
  request.body.shrink_to_fit();
  held = core_.memory->Reserve(decoded.size() * 3);
  if (!held.ok()) {
    exchange.Respond(Busy("server at its memory quota"));
    return std::nullopt;
  }
  hold->parsed = *std::move(held);
  JsonRpcBodyLimits limits;
  limits.max_json_values = core_.envelope_limits.max_json_values;
  // The request wrapper nests the payload three levels deeper.
  limits.max_depth = core_.envelope_limits.max_depth + 4;
  limits.max_batch_items = max_batch_items;
  absl::StatusOr<JsonRpcBody> body = ParseJsonRpcBody(decoded, limits, version);
  if (!body.ok()) {
    exchange.Respond(Plain(413, DetailBody(body.status().message())));
    return std::nullopt;
  }
  if (body->parse_error.has_value()) {
    Answer(exchange, request, version, 200, kJsonType,
           JsonRpcErrorResponse(*body->parse_error, "null"));
    return std::nullopt;
  }
  return *std::move(body);
}

// --- POST /asap -------------------------------------------------------------

void JsonRpcService::HandleRpc(HttpRequest request,
                               std::shared_ptr<HttpExchange> exchange) {
  auto call = std::make_shared<RpcCall>();
  call->start = absl::Now();
  call->version = NegotiateProtocolVersion(request.header("asap-version"));
  call->exchange = std::move(exchange);
  call->request = std::move(request);
  if (core_.metrics != nullptr) {
    call->in_flight.emplace(core_.metrics->TrackCall(kBinding));
  }
  if (call->request.body.size() > options_.inline_parse_bytes) {
    core_.workers->Submit([this, call] { ProcessRpc(call); });
  } else {
    ProcessRpc(std::move(call));
  }
}

void JsonRpcService::ProcessRpc(std::shared_ptr<RpcCall> call) {
  std::optional<JsonRpcBody> body =
      ReadBody(call->request, *call->exchange, call->version,
               options_.max_batch_items, &call->hold);
  if (!body.has_value()) return;
  call->body = *std::move(body);
  // Authentication comes after the JSON-RPC shape and before any envelope.
  absl::StatusOr<std::string> identity = Authenticate(call->request);
  if (!identity.ok()) {
    return RefuseUnauthenticated(
        *call->exchange, call->request, call->version, identity.status(),
        call->body.is_batch ? "null" : call->body.items[0].id_json);
  }
  if (core_.metrics != nullptr && call->body.is_batch) {
    core_.metrics->RecordBatch(kBinding, call->body.items.size());
  }
  call->context = std::make_unique<HandlerContext>(core_.manifest);
  FillContext(call->request, call->exchange, *std::move(identity),
              call->context.get());
  size_t count = call->body.items.size();
  call->answers.resize(count);
  call->pending.store(count + 1);
  auto finish_one = [this, call]() {
    if (call->pending.fetch_sub(1) != 1) return;
    call->hold = BodyHold();
    if (call->http_status != 200) {
      HttpResponse response =
          Plain(call->http_status, std::move(call->http_body));
      for (auto& header : call->http_headers) {
        response.headers.push_back(std::move(header));
      }
      return call->exchange->Respond(std::move(response));
    }
    std::string out;
    if (call->body.is_batch) {
      out = absl::StrCat("[", absl::StrJoin(call->answers, ","), "]");
    } else {
      out = std::move(call->answers[0]);
    }
    Answer(*call->exchange, call->request, call->version, 200, kJsonType,
           std::move(out), call->body.is_batch);
    call->in_flight.reset();
  };
  for (size_t i = 0; i < count; ++i) {
    JsonRpcItem& item = call->body.items[i];
    if (item.error.has_value()) {
      call->answers[i] = JsonRpcErrorResponse(*item.error, item.id_json);
      finish_one();
      continue;
    }
    core_.dispatcher->Dispatch(
        &item.envelope, call->context.get(), /*may_block=*/false,
        [this, call, i, finish_one](absl::StatusOr<v1::Envelope> response) {
          JsonRpcItem& item = call->body.items[i];
          if (core_.metrics != nullptr) {
            core_.metrics->RecordEnvelope(
                kBinding, item.envelope.payload_type(),
                Outcome(response.status()), absl::Now() - call->start);
          }
          if (response.ok()) {
            call->answers[i] =
                JsonRpcResultResponse(*response, item.id_json, call->version);
          } else {
            DispatchErrorAnswer answer =
                MapDispatchError(response.status(), item.envelope,
                                 call->version, call->body.is_batch);
            if (answer.http_status != 200) {
              call->http_status = answer.http_status;
              // A 429 is JSON-RPC-shaped: it answers the request's id.
              call->http_body =
                  answer.http_status == 429
                      ? JsonRpcErrorResponse(answer.error, item.id_json)
                      : std::move(answer.http_body);
              call->http_headers = std::move(answer.http_headers);
            } else {
              call->answers[i] =
                  JsonRpcErrorResponse(answer.error, item.id_json);
            }
          }
          finish_one();
        });
  }
  finish_one();
}

// --- POST /asap/stream
// --------------------------------------------------------

void JsonRpcService::HandleStream(HttpRequest request,
                                  std::shared_ptr<HttpExchange> exchange) {
  if (std::optional<absl::string_view> last_event_id =
          request.header("last-event-id")) {
    ProtocolVersion version =
        NegotiateProtocolVersion(request.header("asap-version"));
    // Only the agent that opened a stream may resume it.
    absl::StatusOr<std::string> identity = Authenticate(request);
    if (!identity.ok()) {
      return RefuseUnauthenticated(*exchange, request, version,
                                   identity.status(), "null");
    }
    return ResumeStream(*last_event_id, version, exchange, *identity);
  }
  if (request.method != "POST") {
    return exchange->Respond(
        Plain(400, DetailBody("GET /asap/stream resumes a stream: it needs a "
                              "Last-Event-ID header")));
  }
  auto call = std::make_shared<StreamCall>();
  call->start = absl::Now();
  call->version = NegotiateProtocolVersion(request.header("asap-version"));
  call->exchange = std::move(exchange);
  call->request = std::move(request);
  if (call->request.body.size() > options_.inline_parse_bytes) {
    core_.workers->Submit([this, call] { ProcessStream(call); });
  } else {
    ProcessStream(std::move(call));
  }
}

void JsonRpcService::ProcessStream(std::shared_ptr<StreamCall> call) {
  HttpExchange& exchange = *call->exchange;
  std::optional<JsonRpcBody> body =
      ReadBody(call->request, exchange, call->version,
               /*max_batch_items=*/1, &call->hold);
  if (!body.has_value()) return;
  if (body->is_batch) {
    JsonRpcError batch_error;
    batch_error.code = kJsonRpcInvalidRequest;
    batch_error.message = "Invalid Request";
    batch_error.data_json =
        "{\"error\":\"/asap/stream takes one request, not a batch\"}";
    return Answer(exchange, call->request, call->version, 200, kJsonType,
                  JsonRpcErrorResponse(batch_error, "null"));
  }
  call->item = std::move(body->items[0]);
  if (call->item.error.has_value()) {
    return Answer(exchange, call->request, call->version, 200, kJsonType,
                  JsonRpcErrorResponse(*call->item.error, call->item.id_json));
  }
  absl::StatusOr<std::string> identity = Authenticate(call->request);
  if (!identity.ok()) {
    return RefuseUnauthenticated(exchange, call->request, call->version,
                                 identity.status(), call->item.id_json);
  }
  call->context = std::make_unique<HandlerContext>(core_.manifest);
  FillContext(call->request, call->exchange, *identity, call->context.get());
  // The caller's rate limit and sender are checked before the stream holds
  // a place in the log, and refused as on POST /asap (429, -32602).
  if (absl::Status admitted =
          core_.dispatcher->CheckCaller(call->item.envelope, *call->context);
      !admitted.ok()) {
    DispatchErrorAnswer answer =
        MapDispatchError(admitted, call->item.envelope, call->version,
                         /*in_batch=*/false);
    if (answer.http_status != 200) {
      HttpResponse response =
          Plain(answer.http_status,
                answer.http_status == 429
                    ? JsonRpcErrorResponse(answer.error, call->item.id_json)
                    : std::move(answer.http_body));
      for (auto& header : answer.http_headers) {
        response.headers.push_back(std::move(header));
      }
      return exchange.Respond(std::move(response));
    }
    return Answer(exchange, call->request, call->version, 200, kJsonType,
                  JsonRpcErrorResponse(answer.error, call->item.id_json));
  }
  call->context->set_caller_checked(true);
  absl::StatusOr<std::string> stream_id = stream_log_.Open(*identity);
  if (!stream_id.ok()) {
    return exchange.Respond(Busy(stream_id.status().message()));
  }
  call->stream_id = *stream_id;
  // The response follows the log from its start, like a resume from 0.
  ResumeStream(absl::StrCat(call->stream_id, "-0"), call->version,
               call->exchange, *identity);
  // The task outlives its first connection: a client that reconnects picks
  // it up from the log, so only shutdown cancels it.
  call->context->set_cancellation_check([] { return false; });
  auto emit = [this, call](v1::Envelope intermediate) {
    return stream_log_
        .Append(call->stream_id,
                absl::StrCat("data: ",
                             EnvelopeJsonFor(intermediate, call->version)))
        .ok();
  };
  core_.dispatcher->DispatchStream(
      &call->item.envelope, call->context.get(), /*may_block=*/false, emit,
      [this, call](absl::StatusOr<v1::Envelope> response) {
        if (core_.metrics != nullptr) {
          core_.metrics->RecordEnvelope(
              kBinding, call->item.envelope.payload_type(),
              Outcome(response.status()), absl::Now() - call->start);
        }
        std::string event;
        if (response.ok()) {
          event =
              absl::StrCat("data: ", EnvelopeJsonFor(*response, call->version));
        } else {
          DispatchErrorAnswer answer =
              MapDispatchError(response.status(), call->item.envelope,
                               call->version, /*in_batch=*/true);
          event = absl::StrCat(
              "event: error\ndata: ",
              JsonRpcErrorResponse(answer.error, call->item.id_json));
        }
        // Past the log's bounds the final event cannot be kept: the stream
        // then ends without it and the client sees no final envelope.
        (void)stream_log_.Append(call->stream_id, std::move(event));
        stream_log_.Finish(call->stream_id);
        call->hold = BodyHold();
      });
}

void JsonRpcService::ResumeStream(absl::string_view last_event_id,
                                  const ProtocolVersion& version,
                                  const std::shared_ptr<HttpExchange>& exchange,
                                  absl::string_view caller) {
  auto delivery = std::make_shared<StreamDelivery>(exchange, releases_);
  absl::StatusOr<std::unique_ptr<StreamLog::Subscription>> subscription =
      stream_log_.Subscribe(
          last_event_id,
          [delivery](absl::string_view event_id, absl::string_view data) {
            delivery->OnEvent(event_id, data);
          },
          [delivery] { delivery->OnEnd(); }, caller);
  if (!subscription.ok()) {
    return exchange->Respond(
        Plain(404, DetailBody(absl::StrCat("Cannot resume from Last-Event-ID: ",
                                           subscription.status().message()))));
  }
  HttpHeaders headers;
  headers.emplace_back("content-type", "text/event-stream");
  headers.emplace_back("cache-control", "no-cache");
  // Tells nginx and similar proxies to pass events on as they come.
  headers.emplace_back("x-accel-buffering", "no");
  if (version.is_v2()) headers.emplace_back("asap-version", version.v2);
  delivery->Start(std::move(headers), *std::move(subscription));
}

}  // namespace asap
