#include "client/http/http_engine.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "asap/errors.h"

namespace asap::internal {
namespace {

// libcurl's process-wide state, set up once before the first handle.
void InitCurlOnce() {
  static const bool initialized = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)initialized;
}

CURLM* Multi(void* multi) { return static_cast<CURLM*>(multi); }

// How long the engine thread sleeps at most when nothing happens; a Start()
// or Shutdown() wakes it sooner.
constexpr int kIdlePollMs = 1000;

constexpr char kCurlCodePayload[] = "asap-curl-code";
constexpr char kNotSentPayload[] = "asap-not-sent";

// Most bytes of response heads (status lines and headers of every response
// of a request, interim ones included) a request accepts: below libcurl's own
// bound on them (300 KiB, an "unavailable" receive error), so that a server
// sending endless headers gets payload_too_large like an endless body.
constexpr size_t kMaxResponseHeadBytes = 256 * 1024;

}  // namespace

std::optional<int> CurlCodeOf(const absl::Status& status) {
  auto payload = status.GetPayload(kCurlCodePayload);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(payload->Flatten(), &code)) {
    return std::nullopt;
  }
  return code;
}

bool NotSent(const absl::Status& status) {
  return status.GetPayload(kNotSentPayload).has_value();
}

const std::string* HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

struct HttpEngine::Transfer {
  HttpRequest request;
  Done done;
  absl::Time start_at;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  curl_slist* connect_to = nullptr;
  HttpResponse response;
  bool too_large = false;
  size_t head_bytes = 0;
  bool head_too_large = false;
  bool sink_refused = false;
  // Opens an h2c connection to `origin` (see Admit).
  bool opener = false;
  H2Origin* origin = nullptr;
  // Its HTTP/2 answer has begun; counted in the engine's h2_receiving_.
  bool receiving_h2 = false;
  int* h2_receiving = nullptr;

  ~Transfer() {
    if (header_list != nullptr) curl_slist_free_all(header_list);
    if (connect_to != nullptr) curl_slist_free_all(connect_to);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    const size_t bytes = size * count;
    HttpResponse& response = transfer->response;
    if (response.response_body_bytes + bytes >
        transfer->request.max_response_bytes) {
      transfer->too_large = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    response.response_body_bytes += bytes;
    if (transfer->request.on_body_data) {
      if (!transfer->request.on_body_data(absl::string_view(data, bytes))) {
        transfer->sink_refused = true;
        return 0;
      }
    } else {
      response.body.append(data, bytes);
    }
    return bytes;
  }

  // libcurl's progress callback, which runs on every pass of the engine
  // loop (at least once a second) also while no data arrives: it hands the
  // sink an empty chunk, so that a caller that gave up on a stream (the
  // server may have gone silent) ends the request at once rather than at
  // its deadline, and frees its connection.
  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t,
                        curl_off_t) {
    auto* transfer = static_cast<Transfer*>(self);
    if (transfer->request.on_body_data(absl::string_view())) return 0;
    transfer->sink_refused = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* self) {
    auto* transfer = static_cast<Transfer*>(self);
    const size_t bytes = size * count;
    transfer->head_bytes += bytes;
    if (transfer->head_bytes > kMaxResponseHeadBytes) {
      transfer->head_too_large = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    absl::string_view line(data, bytes);
    line = absl::StripTrailingAsciiWhitespace(line);
    if (absl::StartsWith(line, "HTTP/")) {
      // A new status line (after a 100 Continue, say): start over.
      transfer->response.headers.clear();
      // (Streams of events are left out: they stay open for long, and each
      // event is followed by more data or the end.)
      if (absl::StartsWith(line, "HTTP/2") && !transfer->receiving_h2 &&
          !transfer->request.on_body_data) {
        transfer->receiving_h2 = true;
        ++*transfer->h2_receiving;
      }
      // The opener's connection speaks HTTP/2: the requests waiting for it
      // may go now, not when its answer ends (see Run).
      if (transfer->opener && absl::StartsWith(line, "HTTP/2")) {
        transfer->origin->confirmed = true;
      }
      return bytes;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return bytes;
    // Bounded like a server bounds request heads: a peer cannot make the
    // client keep more than this.
    if (transfer->response.headers.size() >= 256) return bytes;
    transfer->response.headers.emplace_back(
        absl::AsciiStrToLower(line.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
    return bytes;
  }
};

HttpEngine::HttpEngine(HttpEngineOptions options)
    : options_(options), capacity_(std::max(1, options.max_connections)) {
  InitCurlOnce();
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options_.max_connections));
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(options_.max_connections));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(options_.keep_alive_connections));
  curl_multi_setopt(multi, CURLMOPT_MAX_CONCURRENT_STREAMS,
                    static_cast<long>(options_.max_streams_per_connection));
  multi_ = multi;
  thread_ = std::thread([this] { Run(); });
}

HttpEngine::~HttpEngine() {
  Shutdown();
  thread_.join();
  curl_multi_cleanup(Multi(multi_));
}

absl::Status HttpEngine::Acquire(absl::Time deadline,
                                 bool wait_past_pool_timeout) {
  absl::MutexLock lock(&mu_);
  auto fits = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || held_ < capacity_;
  };
  if (!fits()) {
    ++stats_.waits;
    const absl::Time until =
        wait_past_pool_timeout
            ? deadline
            : std::min(deadline, absl::Now() + options_.pool_timeout);
    mu_.AwaitWithDeadline(absl::Condition(&fits), until);
  }
  if (stopping_) {
    return AsapError(ErrorCode::kCancelled, "the client is shutting down");
  }
  if (held_ >= capacity_) {
    ++stats_.timeouts;
    return AsapError(ErrorCode::kPoolExhausted,
                     absl::StrCat("no connection free within pool_timeout (",
                                  absl::FormatDuration(options_.pool_timeout),
                                  "); ", held_, " requests in flight"));
  }
  ++held_;
  stats_.in_flight = held_;
  return absl::OkStatus();
}

void HttpEngine::Release() {
  absl::MutexLock lock(&mu_);
  --held_;
  stats_.in_flight = held_;
}

void HttpEngine::SetCapacity(int capacity) {
  absl::MutexLock lock(&mu_);
  capacity_ = std::max(1, capacity);
}

void HttpEngine::Start(HttpRequest request, Done done, absl::Duration delay) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->start_at = absl::Now() + std::max(delay, absl::ZeroDuration());
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      ++stats_.requests;
      const absl::Time at = transfer->start_at;
      queued_.emplace(at, std::move(transfer));
    }
  }
  if (transfer != nullptr) {
    transfer->done(
        AsapError(ErrorCode::kCancelled, "the client is shutting down"));
    return;
  }
  curl_multi_wakeup(Multi(multi_));
}

void HttpEngine::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (!stopping_) {
    stopping_ = true;
    curl_multi_wakeup(Multi(multi_));
  }
  if (std::this_thread::get_id() == thread_.get_id()) return;
  mu_.Await(absl::Condition(&stopped_));
}

bool HttpEngine::OnEngineThread() const {
  return std::this_thread::get_id() == thread_.get_id();
}

HttpEngine::Stats HttpEngine::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void HttpEngine::StartTransfer(std::unique_ptr<Transfer> transfer) {
  const HttpRequest& request = transfer->request;
  const absl::Duration left = request.deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    FailBeforeStart(
        std::move(transfer),
        AsapError(ErrorCode::kDeadlineExceeded, "the call's deadline passed"));
    return;
  }
  CURL* easy = curl_easy_init();
  transfer->easy = easy;
  transfer->h2_receiving = &h2_receiving_;
  transfer->response.url = request.url;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  // ASAP_CURL_VERBOSE=1 prints libcurl's trace of every request on stderr.
  if (std::getenv("ASAP_CURL_VERBOSE") != nullptr) {
    curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer.get());
  if (request.on_body_data) {
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Transfer::OnProgress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, transfer.get());
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  }
  // Only http and https, never redirects: a hostile server cannot point the
  // client at another scheme or host.
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   std::max<long>(1, absl::ToInt64Milliseconds(left)));
  // An h2c connection is opened by one request with prior knowledge on a
  // fresh connection (see Admit); the other HTTP/2 requests ask for "HTTP/2
  // over TLS only", with which libcurl reuses an open h2c connection as it
  // is. libcurl 7.88 breaks a connection that a prior-knowledge request
  // reuses ("Error in the HTTP2 framing layer" on it from then on; fixed
  // upstream in 7.89, curl/curl#10643), so a prior-knowledge request never
  // reuses one.
  long version = CURL_HTTP_VERSION_1_1;
  if (request.version == HttpVersion::kHttp2PriorKnowledge) {
    version = transfer->opener ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                               : CURL_HTTP_VERSION_2TLS;
    if (transfer->opener) curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  }
  if (request.version == HttpVersion::kTlsAlpn) {
    version = CURL_HTTP_VERSION_2TLS;
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (!options_.ca_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    if (!options_.cert_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLCERT, options_.cert_file.c_str());
      curl_easy_setopt(easy, CURLOPT_SSLKEY, options_.key_file.c_str());
    }
    if (!request.connect_to.empty()) {
      transfer->connect_to =
          curl_slist_append(nullptr, request.connect_to.c_str());
      curl_easy_setopt(easy, CURLOPT_CONNECT_TO, transfer->connect_to);
    }
  }
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, version);
  // Wait for a connection that multiplexes rather than opening another.
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  if (request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    const size_t size = request.body != nullptr ? request.body->size() : 0;
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                     size > 0 ? request.body->data() : "");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(size));
    transfer->response.request_body_bytes = size;
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  // No "Expect: 100-continue" round trip before large bodies.
  transfer->header_list = curl_slist_append(nullptr, "Expect:");
  for (const std::string& header : request.headers) {
    transfer->header_list =
        curl_slist_append(transfer->header_list, header.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list);
  if (curl_multi_add_handle(Multi(multi_), easy) != CURLM_OK) {
    FailBeforeStart(std::move(transfer),
                    AsapError(ErrorCode::kInternal, "curl_multi_add_handle"));
    return;
  }
  Transfer* key = transfer.get();
  running_.emplace(key, std::move(transfer));
}

HttpEngine::H2Origin* HttpEngine::OriginOf(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  const size_t authority =
      scheme_end == absl::string_view::npos ? 0 : scheme_end + 3;
  const absl::string_view origin = url.substr(0, url.find('/', authority));
  std::unique_ptr<H2Origin>& state = h2_origins_[origin];
  if (state == nullptr) state = std::make_unique<H2Origin>();
  return state.get();
}

void HttpEngine::Admit(std::unique_ptr<Transfer> transfer) {
  if (transfer->request.version != HttpVersion::kHttp2PriorKnowledge) {
    StartTransfer(std::move(transfer));
    return;
  }
  H2Origin* origin = OriginOf(transfer->request.url);
  transfer->origin = origin;
  if (origin->live) {
    StartTransfer(std::move(transfer));
    return;
  }
  // No h2c connection to this origin is known: one request opens it, the
  // others wait for it rather than each opening its own.
  if (origin->opener_running) {
    origin->waiting.push_back(std::move(transfer));
    return;
  }
  origin->opener_running = true;
  transfer->opener = true;
  origin->opener = transfer.get();
  StartTransfer(std::move(transfer));
}

void HttpEngine::FailBeforeStart(std::unique_ptr<Transfer> transfer,
                                 absl::Status error) {
  H2Origin* origin = transfer->origin;
  const bool opener = transfer->opener && origin != nullptr &&
                      origin->opener_running &&
                      origin->opener == transfer.get();
  if (opener) {
    origin->opener_running = false;
    origin->opener = nullptr;
  }
  error.SetPayload(kNotSentPayload, absl::Cord("1"));
  transfer->done(std::move(error));
  if (opener) ReleaseWaiting(origin);
}

void HttpEngine::ReleaseWaiting(H2Origin* origin) {
  std::deque<std::unique_ptr<Transfer>> waiting;
  waiting.swap(origin->waiting);
  while (!waiting.empty()) {
    std::unique_ptr<Transfer> transfer = std::move(waiting.front());
    waiting.pop_front();
    Admit(std::move(transfer));
  }
}

void HttpEngine::ExpireWaiting() {
  const absl::Time now = absl::Now();
  for (auto& [name, origin] : h2_origins_) {
    std::deque<std::unique_ptr<Transfer>>& waiting = origin->waiting;
    for (auto it = waiting.begin(); it != waiting.end();) {
      if ((*it)->request.deadline > now) {
        ++it;
        continue;
      }
      std::unique_ptr<Transfer> transfer = std::move(*it);
      it = waiting.erase(it);
      absl::Status error = AsapError(ErrorCode::kDeadlineExceeded,
                                     "the call's deadline passed while an "
                                     "HTTP/2 connection was being opened");
      error.SetPayload(kNotSentPayload, absl::Cord("1"));
      transfer->done(std::move(error));
    }
  }
}

bool HttpEngine::AnyWaiting() const {
  for (const auto& [name, origin] : h2_origins_) {
    if (!origin->waiting.empty()) return true;
  }
  return false;
}

void HttpEngine::FinishTransfer(Transfer* transfer, int curl_code) {
  auto it = running_.find(transfer);
  std::unique_ptr<Transfer> owned = std::move(it->second);
  running_.erase(it);
  if (owned->receiving_h2) --h2_receiving_;
  curl_multi_remove_handle(Multi(multi_), owned->easy);

  long connects = 0;
  curl_easy_getinfo(owned->easy, CURLINFO_NUM_CONNECTS, &connects);
  {
    absl::MutexLock lock(&mu_);
    stats_.connections_opened += static_cast<uint64_t>(connects);
  }
  const auto code = static_cast<CURLcode>(curl_code);
  H2Origin* origin = owned->origin;
  const bool wanted_h2 = origin != nullptr;
  if (wanted_h2 && owned.get() == origin->opener) {
    // Ended before its connection was up: no h2c connection is known; the
    // next waiting request tries again.
    origin->opener = nullptr;
    origin->opener_running = false;
    origin->confirmed = false;
    origin->live = false;
    ReleaseWaiting(origin);
  }
  if (code == CURLE_OK) {
    long status = 0;
    long version = 0;
    curl_easy_getinfo(owned->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(owned->easy, CURLINFO_HTTP_VERSION, &version);
    owned->response.status = static_cast<int>(status);
    owned->response.http2 = version == CURL_HTTP_VERSION_2_0;
    // An HTTP/1.1 answer to a request that wanted HTTP/2 means no h2c
    // connection had room for it: the next request opens one.
    if (wanted_h2 && !owned->response.http2) origin->live = false;
    owned->done(std::move(owned->response));
    return;
  }
  if (owned->too_large) {
    owned->done(
        AsapError(ErrorCode::kPayloadTooLarge,
                  absl::StrCat("the response is larger than ",
                               owned->request.max_response_bytes, " bytes")));
    return;
  }
  // libcurl refuses a header line over 100 KiB (CURL_MAX_HTTP_HEADER) as
  // out of memory, before the header callback sees it.
  if (owned->head_too_large || code == CURLE_OUT_OF_MEMORY) {
    owned->done(AsapError(
        ErrorCode::kPayloadTooLarge,
        absl::StrCat(owned->request.method, " ", owned->request.url, ": ",
                     owned->head_too_large
                         ? absl::StrCat("the response head is larger than ",
                                        kMaxResponseHeadBytes, " bytes")
                         : absl::StrCat("a response header line is longer "
                                        "than ",
                                        CURL_MAX_HTTP_HEADER,
                                        " bytes (or memory ran out)"))));
    return;
  }
  if (owned->sink_refused) {
    owned->done(AsapError(ErrorCode::kCancelled, "the response was abandoned"));
    return;
  }
  // A failure of the connection (not of this one request: its deadline, a
  // reset of its stream) means no h2c connection may be open any more.
  if (wanted_h2 && code != CURLE_OPERATION_TIMEDOUT &&
      code != CURLE_HTTP2_STREAM && code != CURLE_WRITE_ERROR &&
      code != CURLE_ABORTED_BY_CALLBACK) {
    origin->live = false;
  }
  const std::string what =
      absl::StrCat(owned->request.method, " ", owned->request.url, ": ",
                   curl_easy_strerror(code));
  absl::Status error;
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      error = AsapError(ErrorCode::kDeadlineExceeded, what);
      break;
    case CURLE_URL_MALFORMAT:
      error = AsapError(ErrorCode::kMalformedEnvelope, what);
      break;
    default:
      // Resolve, connect, send and receive failures, a connection that
      // closed early or spoke bad HTTP: the peer cannot be reached as asked.
      error = AsapError(ErrorCode::kUnavailable, what);
      break;
  }
  error.SetPayload(kCurlCodePayload, absl::Cord(absl::StrCat(curl_code)));
  // No byte of the request went out: libcurl never got to sending it.
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(owned->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  if (pretransfer == 0) error.SetPayload(kNotSentPayload, absl::Cord("1"));
  owned->done(std::move(error));
}

void HttpEngine::Run() {
  CURLM* multi = Multi(multi_);
  while (true) {
    std::vector<std::unique_ptr<Transfer>> due;
    bool stopping = false;
    absl::Time next_start = absl::InfiniteFuture();
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      const absl::Time now = absl::Now();
      while (!queued_.empty() && (stopping || queued_.begin()->first <= now)) {
        due.push_back(std::move(queued_.begin()->second));
        queued_.erase(queued_.begin());
      }
      if (!queued_.empty()) next_start = queued_.begin()->first;
    }
    if (stopping) {
      const absl::Status cancelled =
          AsapError(ErrorCode::kCancelled, "the client is shutting down");
      for (auto& transfer : due) transfer->done(cancelled);
      for (auto& [name, origin] : h2_origins_) {
        while (!origin->waiting.empty()) {
          std::unique_ptr<Transfer> transfer =
              std::move(origin->waiting.front());
          origin->waiting.pop_front();
          transfer->done(cancelled);
        }
      }
      while (!running_.empty()) {
        std::unique_ptr<Transfer> transfer =
            std::move(running_.begin()->second);
        running_.erase(running_.begin());
        curl_multi_remove_handle(multi, transfer->easy);
        transfer->done(cancelled);
      }
      // Callbacks run above may have queued retries: fail them too.
      absl::MutexLock lock(&mu_);
      while (!queued_.empty()) {
        std::unique_ptr<Transfer> transfer = std::move(queued_.begin()->second);
        queued_.erase(queued_.begin());
        mu_.Unlock();
        transfer->done(cancelled);
        mu_.Lock();
      }
      stopped_ = true;
      return;
    }
    for (auto& transfer : due) Admit(std::move(transfer));
    if (AnyWaiting()) ExpireWaiting();

    int running = 0;
    curl_multi_perform(multi, &running);
    for (auto& [name, state] : h2_origins_) {
      H2Origin* origin = state.get();
      if (origin->opener_running && origin->opener != nullptr &&
          !origin->confirmed) {
        // Prior knowledge makes the connection HTTP/2 from its first byte:
        // once it is up and the opener's request is going out on it, the
        // others can be multiplexed on it (a server that turns out not to
        // speak HTTP/2 fails them as it fails the opener, and they retry).
        curl_off_t pretransfer = 0;
        curl_easy_getinfo(origin->opener->easy, CURLINFO_PRETRANSFER_TIME_T,
                          &pretransfer);
        origin->confirmed = pretransfer > 0;
      }
      if (origin->confirmed) {
        origin->confirmed = false;
        if (origin->opener_running) {
          origin->opener_running = false;
          origin->opener = nullptr;
          origin->live = true;
          ReleaseWaiting(origin);
        }
      }
    }
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      Transfer* transfer = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
      FinishTransfer(transfer, message->data.result);
    }

    int wait_ms = kIdlePollMs;
    // libcurl 7.88 can leave part of an HTTP/2 response in its own buffers
    // after the socket is drained, to be delivered at the next event
    // (measured here: a 20 KB answer in two DATA frames waited for the idle
    // timeout). While an HTTP/2 answer is arriving the loop wakes every
    // millisecond instead.
    if (h2_receiving_ > 0) wait_ms = std::min(wait_ms, 1);
    if (AnyWaiting()) {
      for (const auto& [name, origin] : h2_origins_) {
        for (const auto& transfer : origin->waiting) {
          next_start = std::min(next_start, transfer->request.deadline);
        }
      }
    }
    if (next_start != absl::InfiniteFuture()) {
      wait_ms = std::min(
          wait_ms, static_cast<int>(std::clamp<int64_t>(
                       absl::ToInt64Milliseconds(next_start - absl::Now()) + 1,
                       0, kIdlePollMs)));
    }
    curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
  }
}

}  // namespace asap::internal
