#include "client/http/http_transport.h"

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/compression/codec.h"
#include "asap/envelope.h"
#include "asap/envelope_json.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "client/http/json_rpc_client.h"

namespace asap::internal {
namespace {

constexpr absl::string_view kSendPath = "/asap";
constexpr absl::string_view kStreamPath = "/asap/stream";
constexpr absl::string_view kManifestPath = "/.well-known/asap/manifest.json";
constexpr absl::string_view kHealthPath = "/health";
constexpr char kVersionOffer[] = "ASAP-Version: 2.2, 2.1, 2.0";
// The reference client compresses with brotli quality 4.
constexpr int kDefaultBrotliQuality = 4;
// An SSE event (one envelope) larger than a message is refused.
constexpr size_t kSseLineSlack = 64;
// The start of a stream's body kept in case it is a plain answer instead.
constexpr size_t kMaxPlainAnswerBytes = 64 * 1024;
// How long SendStreamAsync waits, after the answer, for the server to end
// the response before abandoning the request.
constexpr absl::Duration kStreamEndGrace = absl::Seconds(1);
// The HTTP/2 question of HttpProtocol::kAuto waits at most this long.
constexpr absl::Duration kProbeTimeout = absl::Seconds(2);

// Deeper JSON is never a manifest: protobuf parses messages nested at most
// 100 deep, and a message level is at most two JSON levels (a repeated
// message field: an array, then an object), so no manifest nests past ~202.
constexpr int kMaxManifestJsonDepth = 256;

// Whether `json` nests arrays and objects deeper than `max_depth` (brackets
// in strings do not count). A linear scan without allocation, before
// protobuf's JSON parser, which keeps about 250 bytes per open array: a
// 1 MiB manifest of nested arrays cost 120 MiB.
bool NestsDeeperThan(absl::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

absl::Status Cancelled() {
  return AsapError(ErrorCode::kCancelled, "the client is shutting down");
}

// Whether a failed request may be sent again: the peer was not reached or
// answered 5xx / 429.
bool Retryable(const absl::StatusOr<HttpResponse>& response) {
  if (!response.ok()) {
    std::optional<int> code = CurlCodeOf(response.status());
    if (!code.has_value() ||
        ErrorCodeOf(response.status()) != ErrorCode::kUnavailable) {
      return false;
    }
    switch (*code) {
      // A certificate that does not verify, or client credentials that
      // cannot be used, fail the same way every time.
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_ISSUER_ERROR:
      case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return false;
      default:
        return true;
    }
  }
  return response->status == 429 || response->status >= 500;
}

// Whether `response` says its base URL is not working: the connection
// could not be opened (refused, reset, timed out) or broke, or a gateway in
// front of it answered 502, 503 or 504.
bool UrlFailed(const absl::StatusOr<HttpResponse>& response) {
  if (response.ok()) {
    return response->status == 502 || response->status == 503 ||
           response->status == 504;
  }
  std::optional<int> code = CurlCodeOf(response.status());
  if (!code.has_value()) return false;
  if (*code == CURLE_OPERATION_TIMEDOUT) return NotSent(response.status());
  return Retryable(response);
}

// Removes the streaming marker `payload.final`; returns whether it was true.
bool TakeFinalMark(v1::Envelope* envelope) {
  auto* fields = envelope->mutable_payload()->mutable_fields();
  auto it = fields->find("final");
  if (it == fields->end()) return false;
  bool final = it->second.bool_value();
  fields->erase(it);
  return final;
}

// The wait before retry `retries` (from 0): initial_backoff doubled per
// retry, at most max_backoff, plus up to 20% jitter (still at most
// max_backoff).
absl::Duration RetryBackoff(const HttpRetryOptions& retry, int retries) {
  absl::Duration wait = retry.initial_backoff;
  for (int i = 0; i < retries && wait < retry.max_backoff; ++i) wait *= 2;
  wait = std::min(retry.max_backoff, wait);
  return std::min(
      retry.max_backoff,
      wait + absl::Milliseconds(absl::Uniform<double>(
                 absl::BitGen(), 0, 0.2 * absl::ToDoubleMilliseconds(wait))));
}

// A call's metadata (CallOptions::metadata, checked by ValidateCallOptions)
// as request headers. libcurl drops a header written "name:" with nothing
// after it; "name;" sends it empty.
void AddCallHeaders(const CallOptions& call, HttpRequest* request) {
  for (const auto& [key, value] : call.metadata) {
    request->headers.push_back(value.empty() ? absl::StrCat(key, ";")
                                             : absl::StrCat(key, ": ", value));
  }
}

bool IsHttpUrl(absl::string_view item) {
  return absl::StartsWithIgnoreCase(item, "http://") ||
         absl::StartsWithIgnoreCase(item, "https://");
}

// One base URL of the target, as requests use it.
struct BaseUrl {
  std::string url;         // scheme, authority and prefix, no final "/"
  std::string connect_to;  // a CURLOPT_CONNECT_TO entry, or empty
  std::string name;        // the URL as the target gives it, no final "/"
};

absl::StatusOr<BaseUrl> ParseBaseUrl(absl::string_view item,
                                     const ClientOptions& options) {
  const bool https = absl::StartsWithIgnoreCase(item, "https://");
  absl::string_view rest = item.substr(https ? 8 : 7);
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  absl::string_view prefix =
      slash == absl::string_view::npos ? "" : rest.substr(slash);
  prefix = absl::StripSuffix(prefix, "/");
  if (authority.empty() || absl::StrContains(authority, '@') ||
      absl::StrContains(prefix, '?') || absl::StrContains(prefix, '#')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClientOptions.target: expected http://HOST:PORT[/PREFIX], got '", item,
        "'"));
  }
  BaseUrl base;
  std::string host_port(authority);
  if (https && !options.tls.server_name.empty()) {
    // The URL names the certificate's host; libcurl connects to the target.
    const size_t colon = authority.rfind(':');
    const absl::string_view port =
        colon == absl::string_view::npos ? "443" : authority.substr(colon + 1);
    const absl::string_view host = colon == absl::string_view::npos
                                       ? authority
                                       : authority.substr(0, colon);
    base.connect_to =
        absl::StrCat(options.tls.server_name, ":", port, ":", host, ":", port);
    host_port = absl::StrCat(options.tls.server_name, ":", port);
  }
  base.url = absl::StrCat(https ? "https://" : "http://", host_port, prefix);
  base.name = absl::StrCat(https ? "https://" : "http://", authority, prefix);
  return base;
}

}  // namespace

bool IsHttpTarget(absl::string_view target) {
  for (absl::string_view item : absl::StrSplit(target, ',')) {
    if (IsHttpUrl(absl::StripAsciiWhitespace(item))) return true;
  }
  return false;
}

UrlBalancer::UrlBalancer(std::vector<std::string> urls)
    : UrlBalancer(std::move(urls), Options()) {}

UrlBalancer::UrlBalancer(std::vector<std::string> urls, Options options)
    : urls_(std::move(urls)), options_(options), states_(urls_.size()) {}

bool UrlBalancer::Usable(const State& state, absl::Time now) {
  return !state.down || (!state.trial && state.retry_at <= now);
}

absl::Duration UrlBalancer::Backoff(int failures) const {
  absl::Duration backoff = options_.initial_backoff;
  for (int i = 1; i < failures && backoff < options_.max_backoff; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, options_.max_backoff);
  // +-20%, so that clients that saw a URL fail together do not come back
  // together.
  return backoff * absl::Uniform<double>(absl::BitGen(), 0.8, 1.2);
}

size_t UrlBalancer::Pick(absl::Time now, std::optional<size_t> avoid) {
  absl::MutexLock lock(&mu_);
  const size_t n = urls_.size();
  std::optional<size_t> chosen;
  for (size_t i = 0; i < n && !chosen.has_value(); ++i) {
    const size_t index = (next_ + i) % n;
    if (index != avoid && Usable(states_[index], now)) chosen = index;
  }
  if (chosen.has_value()) {
    next_ = (*chosen + 1) % n;
  } else {
    // Every other URL is down: the one whose backoff ends first, which
    // is `avoid` only when there is no other.
    for (size_t index = 0; index < n; ++index) {
      if (index == avoid && n > 1) continue;
      if (!chosen.has_value() ||
          states_[index].retry_at < states_[*chosen].retry_at) {
        chosen = index;
      }
    }
  }
  State& state = states_[*chosen];
  // A down URL taken is on trial: the others skip it until it answers.
  if (state.down) state.trial = true;
  ++state.requests;
  return *chosen;
}

bool UrlBalancer::AnotherUp(size_t index, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < states_.size(); ++i) {
    if (i != index && Usable(states_[i], now)) return true;
  }
  return false;
}

void UrlBalancer::ReportSuccess(size_t index) {
  absl::MutexLock lock(&mu_);
  State& state = states_[index];
  state.down = false;
  state.trial = false;
  state.failures = 0;
}

void UrlBalancer::ReportFailure(size_t index, absl::Time now) {
  absl::MutexLock lock(&mu_);
  State& state = states_[index];
  ++state.failures_total;
  if (state.down && !state.trial) {
    // A request sent before the URL was marked down: its backoff runs.
    return;
  }
  if (!state.down) ++marked_down_;
  state.down = true;
  state.trial = false;
  ++state.failures;
  state.retry_at = now + Backoff(state.failures);
}

uint64_t UrlBalancer::marked_down() const {
  absl::MutexLock lock(&mu_);
  return marked_down_;
}

std::vector<UrlBalancer::UrlStats> UrlBalancer::stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<UrlStats> stats(urls_.size());
  for (size_t i = 0; i < urls_.size(); ++i) {
    stats[i].url = urls_[i];
    stats[i].requests = states_[i].requests;
    stats[i].failures = states_[i].failures_total;
    stats[i].down = states_[i].down;
  }
  return stats;
}

// One request and its retries.
struct HttpTransport::Call {
  // Its url is the path below the base URL.
  HttpRequest request;
  std::function<bool()> retry_allowed;
  std::function<void(absl::StatusOr<HttpResponse>)> done;
  // Retries made (HttpRetryOptions).
  int retries = 0;
  // CallOptions::wait_for_ready: attempts that could not connect are made
  // again until the deadline; how many were, and the last one's error.
  bool wait_for_ready = false;
  int connect_retries = 0;
  absl::Status last_connect_error;
  // Times the request, not sent at all, moved at once to another URL.
  size_t moves = 0;
};

// Registers a call of the transport, so that the destructor waits for it.
class HttpTransport::CallScope {
 public:
  explicit CallScope(HttpTransport* transport) : transport_(transport) {
    absl::MutexLock lock(&transport_->mu_);
    ok_ = !transport_->closing_;
    if (ok_) ++transport_->active_calls_;
  }
  ~CallScope() {
    if (!ok_) return;
    absl::MutexLock lock(&transport_->mu_);
    --transport_->active_calls_;
  }
  bool ok() const { return ok_; }

 private:
  HttpTransport* transport_;
  bool ok_ = false;
};

absl::StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(
    const ClientOptions& options, std::shared_ptr<ManifestCache> cache) {
  absl::string_view target = options.target;
  std::vector<absl::string_view> items = absl::StrSplit(target, ',');
  if (items.size() > kMaxBaseUrls) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClientOptions.target lists ", items.size(),
                     " base URLs; at most ", kMaxBaseUrls));
  }
  for (size_t i = 0; i < items.size(); ++i) {
    items[i] = absl::StripAsciiWhitespace(items[i]);
    if (items[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ClientOptions.target: base URL ", i + 1, " of ",
                       items.size(), " is empty in '", target, "'"));
    }
    if (!IsHttpUrl(items[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ClientOptions.target: '", items[i],
          "' is not an http:// or https:// URL; a list of base URLs cannot "
          "mix in gRPC addresses"));
    }
  }
  const bool https = absl::StartsWithIgnoreCase(items[0], "https://");
  for (absl::string_view item : items) {
    if (absl::StartsWithIgnoreCase(item, "https://") != https) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ClientOptions.target mixes http:// and https:// base URLs ('",
          items[0], "', '", item, "'): use one scheme"));
    }
  }
  if (!https && options.tls.enabled) {
    return absl::InvalidArgumentError(
        "ClientOptions.tls is on but the target is http://: use https://");
  }
  std::vector<std::string> base_urls;
  std::vector<std::string> connect_to;
  std::vector<std::string> names;
  for (absl::string_view item : items) {
    absl::StatusOr<BaseUrl> base = ParseBaseUrl(item, options);
    if (!base.ok()) return base.status();
    base_urls.push_back(std::move(base->url));
    connect_to.push_back(std::move(base->connect_to));
    names.push_back(std::move(base->name));
  }
  const HttpRetryOptions& retry = options.http.retry;
  if (retry.max_retries < 0 || retry.initial_backoff < absl::ZeroDuration() ||
      retry.max_backoff < retry.initial_backoff ||
      options.http.batch_array_items < 0) {
    return absl::InvalidArgumentError(
        "ClientOptions.http: max_retries and batch_array_items must not be "
        "negative, 0 <= initial_backoff <= max_backoff");
  }
  // One agent behind every URL: one manifest cache entry.
  std::string cache_key_base = absl::StrJoin(base_urls, ",");
  return std::unique_ptr<HttpTransport>(new HttpTransport(
      options, std::move(cache), std::move(base_urls), std::move(connect_to),
      std::move(names), std::move(cache_key_base)));
}

HttpTransport::HttpTransport(const ClientOptions& options,
                             std::shared_ptr<ManifestCache> cache,
                             std::vector<std::string> base_urls,
                             std::vector<std::string> connect_to,
                             std::vector<std::string> names,
                             std::string cache_key_base)
    : options_(options),
      balancer_(std::move(base_urls)),
      connect_to_(std::move(connect_to)),
      names_(std::move(names)),
      cache_key_base_(std::move(cache_key_base)),
      cache_(std::move(cache)) {
  HttpEngineOptions engine;
  engine.max_connections = options_.pool.pool_maxsize;
  engine.keep_alive_connections = options_.pool.pool_connections;
  engine.max_streams_per_connection = options_.pool.max_streams_per_connection;
  engine.pool_timeout = options_.pool.pool_timeout;
  engine.ca_file = options_.tls.ca_file;
  engine.cert_file = options_.tls.cert_file;
  engine.key_file = options_.tls.key_file;
  engine_ = std::make_unique<HttpEngine>(engine);
  if (absl::StartsWith(balancer_.url(0), "https://")) {
    // TLS: ALPN picks HTTP/2 or HTTP/1.1 per connection, no question asked.
    protocol_ = 3;
    http_stats_.protocol = "https";
    return;
  }
  compression_stats_.server_encodings = "br, gzip";
  switch (options_.http.protocol) {
    case HttpProtocol::kHttp1:
      protocol_ = 1;
      http_stats_.protocol = "http/1.1";
      break;
    case HttpProtocol::kHttp2:
      protocol_ = 2;
      http_stats_.protocol = "h2c";
      engine_->SetCapacity(H2cCapacity());
      break;
    case HttpProtocol::kAuto:
      break;
  }
}

HttpTransport::~HttpTransport() { Shutdown(); }

void HttpTransport::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  engine_->Shutdown();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* active) { return *active == 0; }, &active_calls_));
}

absl::Status HttpTransport::NotFromCallback(absl::string_view call) const {
  if (!engine_->OnEngineThread()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "AsapClient::", call,
      " waits for the client's HTTP thread, so it cannot be called from a "
      "SendAsync callback (SendAsync can)"));
}

absl::Status HttpTransport::Prepare(v1::Envelope* envelope) const {
  const absl::Time now = absl::Now();
  FillEnvelopeDefaults(envelope, now);
  if (!options_.validate_before_send) return absl::OkStatus();
  return ValidateEnvelope(*envelope, now, options_.validation);
}

int HttpTransport::H2cCapacity() const {
  // One h2c connection per base URL carries every call to it. libcurl 7.88
  // opens the next connection to a host without asking for HTTP/2 (HTTP/2
  // over cleartext is prior knowledge only), and with such connections next
  // to the h2c one answers were measured landing on the wrong requests. So
  // calls beyond those connections' streams wait for a stream
  // (pool_timeout), as on a full gRPC channel.
  return static_cast<int>(
      std::min<int64_t>(int64_t{options_.pool.max_streams_per_connection} *
                            static_cast<int64_t>(balancer_.size()),
                        1 << 20));
}

HttpVersion HttpTransport::version() const {
  absl::MutexLock lock(&mu_);
  switch (protocol_) {
    case 2:
      return HttpVersion::kHttp2PriorKnowledge;
    case 3:
      return HttpVersion::kTlsAlpn;
    default:
      return HttpVersion::kHttp1;
  }
}

void HttpTransport::DecideProtocol(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (protocol_ != 0) return;
    if (deciding_) {
      // One caller asks; the others wait for its answer (or go on with
      // HTTP/1.1 when it could not tell).
      mu_.AwaitWithDeadline(
          absl::Condition(
              +[](bool* deciding) { return !*deciding; }, &deciding_),
          deadline);
      return;
    }
    deciding_ = true;
  }
  // The base URLs are one agent's: the first that answers decides for all.
  // One that cannot be reached decides nothing, and the next one is asked.
  int decided = 0;
  std::optional<size_t> failed;
  const absl::Time probe_deadline =
      std::min(deadline, absl::Now() + kProbeTimeout);
  for (size_t asked = 0; asked < balancer_.size() && decided == 0; ++asked) {
    if (failed.has_value() && !balancer_.AnotherUp(*failed, absl::Now())) {
      break;
    }
    const size_t index = balancer_.Pick(absl::Now(), failed);
    HttpRequest probe;
    probe.method = "GET";
    probe.url = std::string(kHealthPath);
    probe = ForUrl(probe, index);
    probe.version = HttpVersion::kHttp2PriorKnowledge;
    probe.deadline = probe_deadline;
    probe.max_response_bytes = 64 * 1024;
    absl::Notification answered;
    absl::StatusOr<HttpResponse> result = Cancelled();
    if (!engine_->Acquire(probe.deadline).ok()) break;
    engine_->Start(std::move(probe), [&](absl::StatusOr<HttpResponse> r) {
      result = std::move(r);
      answered.Notify();
    });
    answered.WaitForNotification();
    engine_->Release();
    if (result.ok()) {
      decided = result->http2 ? 2 : 1;
    } else if (std::optional<int> code = CurlCodeOf(result.status())) {
      // Reached, but it does not speak HTTP/2 without an upgrade. Connect
      // failures decide nothing: the next call asks again.
      switch (*code) {
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        // libcurl 7.88's error for an h2c connection closed before the
        // stream ended: the server closed it on the preface.
        case CURLE_PARTIAL_FILE:
          decided = 1;
          break;
        default:
          break;
      }
    }
    if (decided != 0) {
      balancer_.ReportSuccess(index);
    } else if (UrlFailed(result)) {
      balancer_.ReportFailure(index, absl::Now());
      failed = index;
    } else {
      break;
    }
  }
  absl::MutexLock lock(&mu_);
  deciding_ = false;
  if (decided == 0) return;
  protocol_ = decided;
  http_stats_.protocol = decided == 2 ? "h2c" : "http/1.1";
  if (decided == 2) engine_->SetCapacity(H2cCapacity());
}

void HttpTransport::AddAuthorization(HttpRequest* request) {
  if (options_.token_provider == nullptr) return;
  absl::StatusOr<std::string> header =
      BearerAuthorization(*options_.token_provider);
  // Without a token the agent refuses the call with its own
  // asap:auth/unauthenticated, which is what the caller then sees.
  if (header.ok()) {
    request->headers.push_back(absl::StrCat("Authorization: ", *header));
  }
}

HttpRequest HttpTransport::JsonPost(absl::string_view path, std::string json,
                                    absl::Time deadline, int level) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::string(path);
  request.version = version();
  request.deadline = deadline;
  request.max_response_bytes =
      static_cast<size_t>(options_.max_message_bytes) + 64 * 1024;
  request.headers.push_back("Content-Type: application/json");
  AddAuthorization(&request);
  const CompressionOptions& compression = options_.compression;
  const std::string accepted = AcceptEncodingList(compression.accept_encoding);
  request.headers.push_back(absl::StrCat(
      "Accept-Encoding: ",
      compression.algorithm == Compression::kNone || accepted.empty()
          ? kIdentityEncoding
          : absl::string_view(accepted)));
  if (options_.http.negotiate_v2) request.headers.push_back(kVersionOffer);
  const size_t raw_size = json.size();
  if (compression.algorithm != Compression::kNone &&
      raw_size >= compression.threshold_bytes) {
    const absl::string_view encoding = CompressionName(compression.algorithm);
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(encoding);
    if (level == -1) {
      level = compression.level != -1 ? compression.level
              : compression.algorithm == Compression::kBrotli
                  ? kDefaultBrotliQuality
                  : -1;
    }
    absl::StatusOr<std::string> compressed =
        codec.ok() ? (*codec)->Compress(json, level)
                   : absl::StatusOr<std::string>(codec.status());
    // Sent compressed only when that makes it smaller, as the reference does.
    if (compressed.ok() && compressed->size() < raw_size) {
      request.headers.push_back(absl::StrCat("Content-Encoding: ", encoding));
      absl::MutexLock lock(&mu_);
      ++compression_stats_.requests_compressed;
      compression_stats_.request_bytes_raw += raw_size;
      compression_stats_.request_bytes_sent += compressed->size();
      json = *std::move(compressed);
    }
  }
  request.body = std::make_shared<const std::string>(std::move(json));
  return request;
}

void HttpTransport::Run(HttpRequest request,
                        std::function<bool()> retry_allowed,
                        std::function<void(absl::StatusOr<HttpResponse>)> done,
                        bool wait_for_ready) {
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->retry_allowed = std::move(retry_allowed);
  call->done = std::move(done);
  call->wait_for_ready = wait_for_ready;
  const size_t index = balancer_.Pick(absl::Now());
  Attempt(std::move(call), index, absl::ZeroDuration());
}

HttpRequest HttpTransport::ForUrl(const HttpRequest& request,
                                  size_t index) const {
  HttpRequest copy = request;  // shares the body
  copy.url = absl::StrCat(balancer_.url(index), request.url);
  copy.connect_to = connect_to_[index];
  return copy;
}

void HttpTransport::Attempt(std::shared_ptr<Call> call, size_t index,
                            absl::Duration delay) {
  {
    // Counted when made, so a call that returned before its response ended
    // (a stream returns on its final event) is already in the count.
    absl::MutexLock lock(&mu_);
    ++http_stats_.requests;
  }
  engine_->Start(
      ForUrl(call->request, index),
      [this, call, index](absl::StatusOr<HttpResponse> response) {
        OnAnswer(call, index, std::move(response));
      },
      delay);
}

void HttpTransport::OnAnswer(std::shared_ptr<Call> call, size_t index,
                             absl::StatusOr<HttpResponse> response) {
  {
    absl::MutexLock lock(&mu_);
    if (response.ok()) {
      http_stats_.request_bytes += response->request_body_bytes;
      http_stats_.response_bytes += response->response_body_bytes;
      if (protocol_ == 3 && response->http2 && http_stats_.protocol != "h2") {
        // ALPN chose HTTP/2: connections carry many calls each.
        http_stats_.protocol = "h2";
        engine_->SetCapacity(static_cast<int>(
            std::min<int64_t>(int64_t{options_.pool.pool_maxsize} *
                                  options_.pool.max_streams_per_connection,
                              1 << 20)));
      } else if (protocol_ == 3 && !response->http2 &&
                 http_stats_.protocol == "https") {
        http_stats_.protocol = "http/1.1 over TLS";
      }
    }
  }
  const absl::Time now = absl::Now();
  if (UrlFailed(response)) {
    balancer_.ReportFailure(index, now);
  } else if (response.ok()) {
    balancer_.ReportSuccess(index);
  }
  const bool retryable = Retryable(response);
  // A request that never left the client goes at once to the next URL that
  // is up, as gRPC sends an RPC no connection took to another subchannel:
  // each other URL once at most, and not counted as a retry.
  if (retryable && !response.ok() && NotSent(response.status()) &&
      call->moves + 1 < balancer_.size() && balancer_.AnotherUp(index, now) &&
      (!call->retry_allowed || call->retry_allowed())) {
    ++call->moves;
    {
      absl::MutexLock lock(&mu_);
      ++http_stats_.url_failovers;
    }
    Attempt(call, balancer_.Pick(now, index), absl::ZeroDuration());
    return;
  }
  const HttpRetryOptions& retry = options_.http.retry;
  // wait_for_ready: a request that could not connect goes again after the
  // backoff, whatever max_retries says, until the deadline; the last attempt
  // is made at the deadline, where it fails with deadline_exceeded.
  if (call->wait_for_ready && retryable && !response.ok() &&
      NotSent(response.status()) &&
      (!call->retry_allowed || call->retry_allowed())) {
    const absl::Duration wait =
        std::max(absl::ZeroDuration(),
                 std::min(RetryBackoff(retry, call->connect_retries),
                          call->request.deadline - now));
    ++call->connect_retries;
    call->last_connect_error = response.status();
    const size_t next = balancer_.Pick(now, index);
    {
      absl::MutexLock lock(&mu_);
      ++http_stats_.retries;
      if (next != index) ++http_stats_.url_failovers;
    }
    Attempt(call, next, wait);
    return;
  }
  if (call->connect_retries > 0 && !response.ok() &&
      ErrorCodeOf(response.status()) == ErrorCode::kDeadlineExceeded &&
      NotSent(response.status())) {
    // Waited for a connection until the deadline: say what kept failing.
    call->done(AsapError(
        ErrorCode::kDeadlineExceeded,
        absl::StrCat("wait_for_ready: no connection before the deadline after ",
                     call->connect_retries + 1, " attempts; the last said: ",
                     call->last_connect_error.message())));
    return;
  }
  if (call->retries < retry.max_retries && retryable &&
      (!call->retry_allowed || call->retry_allowed())) {
    absl::Duration wait = RetryBackoff(retry, call->retries);
    bool honoured = true;
    if (response.ok() && response->status == 429) {
      const std::string* header = response->Header("retry-after");
      std::optional<absl::Duration> after =
          header != nullptr ? ParseRetryAfter(*header, now) : std::nullopt;
      if (after.has_value()) {
        wait = *after;
        honoured = *after <= retry.max_retry_after;
      }
    }
    if (honoured && now + wait < call->request.deadline) {
      ++call->retries;
      // The same envelope (same id) to the next URL: an agent whose
      // replicas share an idempotency store runs it once wherever it lands.
      const size_t next = balancer_.Pick(now, index);
      {
        absl::MutexLock lock(&mu_);
        ++http_stats_.retries;
        if (next != index) ++http_stats_.url_failovers;
      }
      Attempt(call, next, wait);
      return;
    }
  }
  call->done(std::move(response));
}

void HttpTransport::NoteVersion(const HttpResponse& response) {
  const std::string* echoed = response.Header("asap-version");
  absl::MutexLock lock(&mu_);
  server_version_ = echoed != nullptr ? *echoed : "1.0";
  http_stats_.server_version = server_version_;
}

absl::StatusOr<std::string> HttpTransport::Body(
    absl::StatusOr<HttpResponse> response) {
  if (!response.ok()) return response.status();
  const std::string& url = response->url;
  std::string body = std::move(response->body);
  const std::string* encoding = response->Header("content-encoding");
  if (encoding != nullptr && !encoding->empty() &&
      !absl::EqualsIgnoreCase(*encoding, kIdentityEncoding)) {
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(*encoding);
    if (!codec.ok()) return codec.status();
    absl::StatusOr<std::string> decoded = (*codec)->Decompress(
        body, static_cast<size_t>(options_.max_message_bytes) + 64 * 1024);
    if (!decoded.ok()) return decoded.status();
    absl::MutexLock lock(&mu_);
    ++compression_stats_.responses_compressed;
    compression_stats_.response_bytes_received += body.size();
    compression_stats_.response_bytes_raw += decoded->size();
    body = *std::move(decoded);
  }
  if (response->status != 200) {
    absl::Status error = HttpStatusError(response->status, body, url);
    const std::string* retry_after = response->Header("retry-after");
    if (response->status == 429 && retry_after != nullptr) {
      if (std::optional<absl::Duration> wait =
              ParseRetryAfter(*retry_after, absl::Now())) {
        error = WithRetryAfter(std::move(error), *wait);
      }
    }
    return error;
  }
  return body;
}

void HttpTransport::SendAsync(v1::Envelope envelope, const CallOptions& call,
                              absl::Time deadline,
                              AsapClient::SendCallback done) {
  auto scope = std::make_shared<CallScope>(this);
  if (!scope->ok()) return done(Cancelled());
  if (absl::Status s = Prepare(&envelope); !s.ok()) return done(s);
  // From a SendAsync callback (the engine thread) nothing may wait for the
  // engine: no protocol question (the version known so far is used), and
  // a free slot now or pool_exhausted.
  const bool in_callback = engine_->OnEngineThread();
  if (!in_callback) DecideProtocol(deadline);
  if (absl::Status s = engine_->Acquire(in_callback ? absl::Now() : deadline);
      !s.ok()) {
    return done(s);
  }
  int64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = ++next_request_id_;
  }
  HttpRequest request =
      JsonPost(kSendPath, JsonRpcSendBody(envelope, id), deadline);
  request.headers.push_back(absl::StrCat("X-Idempotency-Key: ", envelope.id()));
  AddCallHeaders(call, &request);
  Run(
      std::move(request), nullptr,
      [this, scope, id,
       done = std::move(done)](absl::StatusOr<HttpResponse> response) mutable {
        engine_->Release();
        if (response.ok() && response->status == 200) NoteVersion(*response);
        absl::StatusOr<std::string> body = Body(std::move(response));
        absl::StatusOr<v1::Envelope> result =
            body.ok() ? ParseJsonRpcSendAnswer(*body, id)
                      : absl::StatusOr<v1::Envelope>(body.status());
        // The registration ends after `done`, which may be the last thing
        // the destructor waits for.
        AsapClient::SendCallback user_done = std::move(done);
        user_done(std::move(result));
        scope.reset();
      },
      call.wait_for_ready);
}

absl::StatusOr<v1::Envelope> HttpTransport::Send(v1::Envelope envelope,
                                                 const CallOptions& call,
                                                 absl::Time deadline) {
  if (absl::Status s = NotFromCallback("Send"); !s.ok()) return s;
  absl::Notification finished;
  absl::StatusOr<v1::Envelope> result = Cancelled();
  SendAsync(std::move(envelope), call, deadline,
            [&](absl::StatusOr<v1::Envelope> r) {
              result = std::move(r);
              finished.Notify();
            });
  finished.WaitForNotification();
  return result;
}

// The events of one POST /asap/stream, parsed on the engine thread as the
// body arrives. Each envelope (or error) goes to `deliver`, and the end of
// the request to `end`, both on the engine thread, one at a time.
struct HttpTransport::StreamEvents {
  std::function<void(absl::StatusOr<v1::Envelope>)> deliver;
  std::function<void(absl::Status)> end;
  // Parser state.
  std::string line;
  std::string event_type;
  std::string data;
  bool any_event = false;
  // A line was longer than max_line (the request was aborted for it).
  bool line_too_long = false;
  // The body's first bytes, kept in case it is not an event stream (a
  // JSON-RPC error answer, an HTTP error's detail).
  std::string raw;
  // The caller has its answer: the request ends at its next callback
  // (HttpEngine polls with empty chunks) instead of holding its connection
  // until the deadline.
  std::atomic<bool> abandoned{false};
  // SendStreamAsync has its answer and waits for the server to end the
  // response (keeping the connection for reuse), but not past this time
  // (absl::GetCurrentTimeNanos), when the request is abandoned.
  std::atomic<int64_t> give_up_at_ns{std::numeric_limits<int64_t>::max()};
};

absl::Status HttpTransport::StartStream(v1::Envelope envelope,
                                        const CallOptions& call,
                                        absl::Time deadline,
                                        std::shared_ptr<StreamEvents> events,
                                        std::shared_ptr<CallScope> scope) {
  if (absl::Status s = Prepare(&envelope); !s.ok()) return s;
  // From a callback (the engine thread) nothing may wait for the engine: no
  // protocol question (the version known so far is used), and a free slot
  // now or pool_exhausted.
  const bool in_callback = engine_->OnEngineThread();
  if (!in_callback) DecideProtocol(deadline);
  if (absl::Status s = engine_->Acquire(in_callback ? absl::Now() : deadline);
      !s.ok()) {
    return s;
  }
  int64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = ++next_request_id_;
  }
  HttpRequest request =
      JsonPost(kStreamPath, JsonRpcSendBody(envelope, id), deadline);
  request.headers.push_back("Accept: text/event-stream");
  // Events are read as they come: no compressed stream.
  for (std::string& header : request.headers) {
    if (absl::StartsWith(header, "Accept-Encoding:")) {
      header = "Accept-Encoding: identity";
    }
  }
  request.headers.push_back(absl::StrCat("X-Idempotency-Key: ", envelope.id()));
  AddCallHeaders(call, &request);

  const size_t max_line =
      static_cast<size_t>(options_.max_message_bytes) + kSseLineSlack;
  auto dispatch = [events]() {
    if (events->data.empty()) {
      events->event_type.clear();
      return;
    }
    events->any_event = true;
    absl::StatusOr<v1::Envelope> item =
        events->event_type == "error" ? ParseJsonRpcSendAnswer(events->data)
                                      : [&]() -> absl::StatusOr<v1::Envelope> {
      rapidjson::Document document;
      if (ParseJsonDocument(events->data, &document).IsError() ||
          !document.IsObject()) {
        return AsapError(ErrorCode::kInternal,
                         "a stream event is not a JSON envelope");
      }
      document.RemoveMember("requires_ack");
      return EnvelopeFromJsonValue(document);
    }();
    events->data.clear();
    events->event_type.clear();
    events->deliver(std::move(item));
  };
  request.on_body_data = [events, dispatch, max_line](absl::string_view chunk) {
    if (events->abandoned ||
        absl::GetCurrentTimeNanos() > events->give_up_at_ns) {
      return false;
    }
    if (!events->any_event && events->raw.size() < kMaxPlainAnswerBytes) {
      absl::StrAppend(&events->raw, chunk.substr(0, kMaxPlainAnswerBytes -
                                                        events->raw.size()));
    }
    for (char c : chunk) {
      if (c != '\n') {
        if (events->line.size() >= max_line) {
          events->line_too_long = true;
          return false;
        }
        events->line.push_back(c);
        continue;
      }
      absl::string_view line = absl::StripSuffix(events->line, "\r");
      if (line.empty()) {
        dispatch();
        // The consumer has its answer and wants no more of the stream.
        if (events->abandoned) return false;
      } else if (absl::ConsumePrefix(&line, "data:")) {
        if (!events->data.empty()) events->data.push_back('\n');
        absl::StrAppend(&events->data, absl::StripPrefix(line, " "));
      } else if (absl::ConsumePrefix(&line, "event:")) {
        events->event_type = std::string(absl::StripPrefix(line, " "));
      }
      events->line.clear();
    }
    return true;
  };
  const std::string url = request.url;
  // A stream that delivered an event is not sent again: its task runs.
  // Before that, a retry starts reading afresh.
  auto retry_allowed = [events] {
    if (events->any_event) return false;
    events->line.clear();
    events->data.clear();
    events->event_type.clear();
    events->raw.clear();
    return true;
  };
  Run(
      std::move(request), std::move(retry_allowed),
      [this, events, dispatch, id, max_line,
       scope = std::move(scope)](absl::StatusOr<HttpResponse> response) {
        engine_->Release();
        if (response.ok() && response->status == 200) NoteVersion(*response);
        absl::Status end;
        const std::string* type =
            response.ok() ? response->Header("content-type") : nullptr;
        if (!response.ok() && events->line_too_long) {
          end = AsapError(
              ErrorCode::kPayloadTooLarge,
              absl::StrCat("a line of the event stream is longer than ",
                           max_line, " bytes"));
        } else if (!response.ok()) {
          end = response.status();
        } else if (response->status != 200) {
          end = HttpStatusError(response->status, events->raw, response->url);
        } else if (!events->any_event &&
                   (type == nullptr ||
                    !absl::StartsWithIgnoreCase(*type, "text/event-stream"))) {
          // Not a stream: a JSON-RPC answer (an error found before the task
          // started, or the result of a server that does not stream).
          absl::StatusOr<v1::Envelope> answer =
              ParseJsonRpcSendAnswer(events->raw, id);
          if (answer.ok()) {
            (*answer->mutable_payload()->mutable_fields())["final"]
                .set_bool_value(true);
          }
          events->deliver(std::move(answer));
        } else {
          dispatch();  // a last event without its blank line
        }
        events->end(std::move(end));
      },
      call.wait_for_ready);
  return absl::OkStatus();
}

absl::StatusOr<v1::Envelope> HttpTransport::SendStream(
    v1::Envelope envelope, const CallOptions& call, absl::Time deadline,
    const AsapClient::IntermediateCallback& on_intermediate) {
  if (absl::Status s = NotFromCallback("SendStream"); !s.ok()) return s;
  auto scope = std::make_shared<CallScope>(this);
  if (!scope->ok()) return Cancelled();
  // Events cross from the engine thread to this one.
  struct Queue {
    absl::Mutex mu;
    std::deque<absl::StatusOr<v1::Envelope>> items ABSL_GUARDED_BY(mu);
    bool ended ABSL_GUARDED_BY(mu) = false;
    absl::Status end_status ABSL_GUARDED_BY(mu);
  };
  auto queue = std::make_shared<Queue>();
  auto events = std::make_shared<StreamEvents>();
  events->deliver = [queue](absl::StatusOr<v1::Envelope> item) {
    absl::MutexLock lock(&queue->mu);
    queue->items.push_back(std::move(item));
  };
  events->end = [queue](absl::Status end) {
    absl::MutexLock lock(&queue->mu);
    queue->ended = true;
    queue->end_status = std::move(end);
  };
  absl::Cleanup abandon = [events] { events->abandoned = true; };
  if (absl::Status s =
          StartStream(std::move(envelope), call, deadline, events, scope);
      !s.ok()) {
    return s;
  }

  std::optional<v1::Envelope> final;
  while (true) {
    absl::StatusOr<v1::Envelope> item = Cancelled();
    {
      absl::MutexLock lock(&queue->mu);
      queue->mu.Await(absl::Condition(
          +[](Queue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu) {
            return q->ended || !q->items.empty();
          },
          queue.get()));
      if (queue->items.empty()) {
        if (!queue->end_status.ok()) return queue->end_status;
        break;
      }
      item = std::move(queue->items.front());
      queue->items.pop_front();
    }
    if (!item.ok()) return item.status();
    if (TakeFinalMark(&*item)) {
      // The answer is in: whatever the server does next (it should end the
      // stream) does not hold the caller. Returning abandons the request.
      final = *std::move(item);
      break;
    }
    if (on_intermediate) on_intermediate(*item);
  }
  if (!final.has_value()) {
    return AsapError(ErrorCode::kInternal,
                     "the stream ended without a final envelope");
  }
  return *std::move(final);
}

void HttpTransport::SendStreamAsync(
    v1::Envelope envelope, const CallOptions& call, absl::Time deadline,
    AsapClient::IntermediateCallback on_intermediate,
    AsapClient::SendCallback done) {
  auto scope = std::make_shared<CallScope>(this);
  if (!scope->ok()) return done(Cancelled());
  // The callbacks, used on the engine thread only (once the request runs).
  struct Callbacks {
    AsapClient::IntermediateCallback on_intermediate;
    AsapClient::SendCallback done;
    // The final envelope or the error event, once it has come.
    std::optional<absl::StatusOr<v1::Envelope>> answer;
  };
  auto callbacks = std::make_shared<Callbacks>();
  callbacks->on_intermediate = std::move(on_intermediate);
  callbacks->done = std::move(done);
  auto events = std::make_shared<StreamEvents>();
  // `events` owns these functions: they reach it by plain pointer.
  StreamEvents* const parser = events.get();
  // Once the answer is in, an HTTP/2 stream is reset at once (cheap, and the
  // connection stays); an HTTP/1.1 response is read to its end, which the
  // server sends right after the last event, so that its connection can be
  // used again.
  const bool reset_at_answer = version() != HttpVersion::kHttp1;
  events->deliver = [callbacks, parser,
                     reset_at_answer](absl::StatusOr<v1::Envelope> item) {
    if (callbacks->answer.has_value()) return;
    if (item.ok() && !TakeFinalMark(&*item)) {
      if (callbacks->on_intermediate) callbacks->on_intermediate(*item);
      return;
    }
    // The answer is in. `done` runs once the request has ended and given its
    // pool place back, so that `done` can use it. An HTTP/1.1 server that
    // does not end the response is cut off after kStreamEndGrace.
    callbacks->answer = std::move(item);
    callbacks->on_intermediate = nullptr;
    if (reset_at_answer) {
      parser->abandoned = true;
    } else {
      parser->give_up_at_ns = absl::GetCurrentTimeNanos() +
                              absl::ToInt64Nanoseconds(kStreamEndGrace);
    }
  };
  auto complete = [callbacks](absl::StatusOr<v1::Envelope> result) {
    callbacks->on_intermediate = nullptr;
    AsapClient::SendCallback user_done = std::move(callbacks->done);
    user_done(std::move(result));
  };
  events->end = [callbacks, complete](absl::Status end) {
    if (callbacks->answer.has_value()) {
      return complete(*std::move(callbacks->answer));
    }
    if (end.ok()) {
      end = AsapError(ErrorCode::kInternal,
                      "the stream ended without a final envelope");
    }
    complete(std::move(end));
  };
  // The registration (`scope`) ends with the request, after `done`.
  if (absl::Status s =
          StartStream(std::move(envelope), call, deadline, events, scope);
      !s.ok()) {
    complete(std::move(s));
  }
}

void HttpTransport::SendBatchRequests(std::vector<v1::Envelope>& envelopes,
                                      const std::vector<size_t>& positions,
                                      bool use_arrays, int window,
                                      const CallOptions& call,
                                      absl::Time deadline,
                                      AsapClient::BatchResults* results) {
  struct Pending {
    absl::Mutex mu;
    int outstanding ABSL_GUARDED_BY(mu) = 0;
  };
  Pending pending;
  std::pair<Pending*, int> bound(&pending, std::max(1, window));
  const size_t group =
      use_arrays ? static_cast<size_t>(options_.http.batch_array_items) : 1;
  // Bytes of one request body at most (a batch array is cut before).
  const size_t max_body = static_cast<size_t>(options_.max_message_bytes);
  size_t next = 0;
  while (next < positions.size()) {
    // The next request: one envelope, or as many as fit in one array.
    std::vector<size_t> members;
    std::vector<const v1::Envelope*> items;
    size_t bytes = 2;
    int64_t first_id;
    {
      absl::MutexLock lock(&mu_);
      first_id = next_request_id_ + 1;
    }
    std::string body;
    if (group <= 1) {
      members.push_back(positions[next++]);
      body = JsonRpcSendBody(envelopes[members[0]], first_id);
    } else {
      body = "[";
      while (next < positions.size() && members.size() < group) {
        std::string one;
        AppendJsonRpcSend(envelopes[positions[next]],
                          first_id + static_cast<int64_t>(members.size()),
                          &one);
        if (!members.empty() && bytes + one.size() + 1 > max_body) break;
        if (!members.empty()) body.push_back(',');
        body += one;
        bytes += one.size() + 1;
        members.push_back(positions[next++]);
      }
      body.push_back(']');
    }
    {
      absl::MutexLock lock(&mu_);
      next_request_id_ = first_id + static_cast<int64_t>(members.size());
      if (use_arrays) ++http_stats_.batch_arrays;
    }
    // Waits for a slot until the batch's deadline: the batch's own earlier
    // requests free them.
    if (absl::Status s = engine_->Acquire(deadline,
                                          /*wait_past_pool_timeout=*/true);
        !s.ok()) {
      for (size_t position : members) (*results)[position] = s;
      continue;
    }
    // Batch arrays favour speed over size, as gRPC batch frames do.
    HttpRequest request = JsonPost(kSendPath, std::move(body), deadline,
                                   group > 1 ? kStreamCompressionLevel : -1);
    if (group <= 1) {
      request.headers.push_back(
          absl::StrCat("X-Idempotency-Key: ", envelopes[members[0]].id()));
    }
    AddCallHeaders(call, &request);
    {
      // At most `window` requests in flight.
      absl::MutexLock lock(&pending.mu);
      pending.mu.Await(absl::Condition(
          +[](std::pair<Pending*, int>* p) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return p->first->outstanding < p->second;
          },
          &bound));
      ++pending.outstanding;
    }
    Run(
        std::move(request), nullptr,
        [this, &pending, results, members = std::move(members), first_id,
         group](absl::StatusOr<HttpResponse> response) {
          engine_->Release();
          if (response.ok() && response->status == 200) NoteVersion(*response);
          absl::StatusOr<std::string> body = Body(std::move(response));
          if (group <= 1) {
            (*results)[members[0]] =
                body.ok() ? ParseJsonRpcSendAnswer(*body, first_id)
                          : absl::StatusOr<v1::Envelope>(body.status());
          } else {
            absl::StatusOr<std::vector<absl::StatusOr<v1::Envelope>>> answers =
                body.ok()
                    ? ParseJsonRpcBatchAnswer(*body, first_id, members.size())
                    : absl::StatusOr<std::vector<absl::StatusOr<v1::Envelope>>>(
                          body.status());
            for (size_t i = 0; i < members.size(); ++i) {
              (*results)[members[i]] =
                  answers.ok() ? std::move((*answers)[i])
                               : absl::StatusOr<v1::Envelope>(answers.status());
            }
          }
          absl::MutexLock lock(&pending.mu);
          --pending.outstanding;
        },
        call.wait_for_ready);
  }
  absl::MutexLock lock(&pending.mu);
  pending.mu.Await(absl::Condition(
      +[](Pending* p)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu) { return p->outstanding == 0; },
      &pending));
}

absl::StatusOr<AsapClient::BatchResults> HttpTransport::SendBatch(
    std::vector<v1::Envelope> envelopes, const BatchOptions& options,
    const CallOptions& call, absl::Time deadline) {
  if (absl::Status s = NotFromCallback("SendBatch"); !s.ok()) return s;
  CallScope scope(this);
  if (!scope.ok()) return Cancelled();
  AsapClient::BatchResults results(envelopes.size(),
                                   absl::InternalError("not sent"));
  std::vector<size_t> positions;
  positions.reserve(envelopes.size());
  for (size_t i = 0; i < envelopes.size(); ++i) {
    absl::Status status = Prepare(&envelopes[i]);
    if (!status.ok()) {
      if (options.fail_fast) {
        return absl::Status(
            status.code(),
            absl::StrCat(status.message(), " (batch envelope ", i, ")"));
      }
      results[i] = status;
      continue;
    }
    positions.push_back(i);
  }
  if (!positions.empty()) {
    DecideProtocol(deadline);
    bool know_version;
    {
      absl::MutexLock lock(&mu_);
      know_version = !server_version_.empty();
    }
    bool arrays = options_.http.negotiate_v2 &&
                  options_.http.batch_array_items > 1 && positions.size() > 1;
    if (arrays && !know_version) {
      // The first envelope alone tells whether the server speaks v2.
      SendBatchRequests(envelopes, {positions[0]}, false, 1, call, deadline,
                        &results);
      positions.erase(positions.begin());
    }
    {
      absl::MutexLock lock(&mu_);
      arrays = arrays && absl::StartsWith(server_version_, "2.");
    }
    SendBatchRequests(envelopes, positions, arrays, options.window, call,
                      deadline, &results);
  }
  if (options.fail_fast) {
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].ok()) {
        const absl::Status& status = results[i].status();
        return absl::Status(
            status.code(),
            absl::StrCat(status.message(), " (batch envelope ", i, ")"));
      }
    }
  }
  return results;
}

absl::StatusOr<v1::Manifest> HttpTransport::FetchManifest(
    const ManifestCache::Validator* stale, const CallOptions& call,
    absl::Time deadline, ManifestCache::FetchResult* out) {
  DecideProtocol(deadline);
  if (absl::Status s = engine_->Acquire(deadline); !s.ok()) return s;
  HttpRequest request;
  request.method = "GET";
  request.url = std::string(kManifestPath);
  request.version = version();
  request.deadline = deadline;
  request.max_response_bytes =
      static_cast<size_t>(options_.max_message_bytes) + 64 * 1024;
  const std::string accepted =
      AcceptEncodingList(options_.compression.accept_encoding);
  if (options_.compression.algorithm != Compression::kNone &&
      !accepted.empty()) {
    request.headers.push_back(absl::StrCat("Accept-Encoding: ", accepted));
  }
  if (stale != nullptr) {
    request.headers.push_back(absl::StrCat("If-None-Match: ", stale->etag));
  }
  AddAuthorization(&request);
  AddCallHeaders(call, &request);
  absl::Notification answered;
  absl::StatusOr<HttpResponse> response = Cancelled();
  Run(
      std::move(request), nullptr,
      [&](absl::StatusOr<HttpResponse> r) {
        engine_->Release();
        response = std::move(r);
        answered.Notify();
      },
      call.wait_for_ready);
  answered.WaitForNotification();
  if (!response.ok()) return response.status();
  if (const std::string* etag = response->Header("etag")) out->etag = *etag;
  if (const std::string* cache_control = response->Header("cache-control")) {
    out->ttl = ParseMaxAge(*cache_control);
  }
  if (response->status == 304 && stale != nullptr) {
    out->not_modified = true;
    absl::MutexLock lock(&mu_);
    ++http_stats_.manifest_not_modified;
    return *stale->manifest;
  }
  const std::string url = response->url;
  absl::StatusOr<std::string> body = Body(*std::move(response));
  if (!body.ok()) return body.status();
  if (NestsDeeperThan(*body, kMaxManifestJsonDepth)) {
    return AsapError(
        ErrorCode::kMalformedManifest,
        absl::StrCat("the manifest from ", url, " nests deeper than ",
                     kMaxManifestJsonDepth, " levels"));
  }
  return ManifestFromJson(*body);
}

absl::StatusOr<v1::Manifest> HttpTransport::GetManifest(const CallOptions& call,
                                                        absl::Time deadline) {
  if (absl::Status s = NotFromCallback("GetManifest"); !s.ok()) return s;
  CallScope scope(this);
  if (!scope.ok()) return Cancelled();
  if (cache_ == nullptr) {
    ManifestCache::FetchResult ignored;
    return FetchManifest(nullptr, call, deadline, &ignored);
  }
  absl::StatusOr<std::shared_ptr<const v1::Manifest>> manifest =
      cache_->GetOrRevalidate(
          // Two identities sharing a cache never share an entry.
          options_.token_provider == nullptr
              ? absl::StrCat(cache_key_base_, kManifestPath)
              : absl::StrCat(cache_key_base_, kManifestPath, "#",
                             options_.token_provider->CacheKey()),
          [&](const ManifestCache::Validator* stale)
              -> absl::StatusOr<ManifestCache::FetchResult> {
            ManifestCache::FetchResult result;
            absl::StatusOr<v1::Manifest> fetched =
                FetchManifest(stale, call, deadline, &result);
            if (!fetched.ok()) return fetched.status();
            if (!result.not_modified) result.manifest = *std::move(fetched);
            return result;
          });
  if (!manifest.ok()) return manifest.status();
  return **manifest;
}

ChannelPool::Stats HttpTransport::pool_stats() const {
  HttpEngine::Stats engine = engine_->stats();
  ChannelPool::Stats stats;
  stats.connections_opened = engine.connections_opened;
  stats.leases = engine.requests;
  stats.waits = engine.waits;
  stats.timeouts = engine.timeouts;
  return stats;
}

AsapClient::CompressionStats HttpTransport::compression_stats() const {
  absl::MutexLock lock(&mu_);
  return compression_stats_;
}

AsapClient::HttpStats HttpTransport::http_stats() const {
  AsapClient::HttpStats stats;
  {
    absl::MutexLock lock(&mu_);
    stats = http_stats_;
  }
  stats.connections_opened = engine_->stats().connections_opened;
  stats.urls_marked_down = balancer_.marked_down();
  stats.urls = balancer_.stats();
  for (size_t i = 0; i < stats.urls.size(); ++i) stats.urls[i].url = names_[i];
  return stats;
}

}  // namespace asap::internal
