// HttpTransport: AsapClient's calls over ASAP's JSON-RPC HTTP binding, for
// `http://host:port[/prefix]` and `https://...` targets. AsapClient forwards to
// it, so callers use the same API on both bindings (client/asap_client.h).
//
//   * Send / SendAsync: `POST /asap`, one JSON-RPC asap.send request;
//   * SendStream: `POST /asap/stream`, Server-Sent Events;
//   * SendBatch: concurrent requests multiplexed on HTTP/2 or spread over
//     the HTTP/1.1 keep-alive pool, or v2 JSON-RPC batch arrays when the
//     server speaks v2;
//   * GetManifest: `GET /.well-known/asap/manifest.json`, cached by URL and
//     revalidated with If-None-Match after expiry (a 304 costs no body).
// Compression is HTTP's: Content-Encoding on requests of at least
// threshold_bytes (br or gzip, only when smaller), Accept-Encoding for
// answers. Failed requests are retried as HttpRetryOptions says.
//
// A target may list several base URLs of one agent ("http://a:1,http://b:1"):
// requests then go round-robin over those that are up (UrlBalancer), a retry
// goes to another URL than the one that failed, and a request that could not
// reach its URL at all goes at once to the next one that is up.
#ifndef ASAP_CLIENT_HTTP_HTTP_TRANSPORT_H_
#define ASAP_CLIENT_HTTP_HTTP_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/asap_client.h"
#include "client/call_options.h"
#include "client/http/http_engine.h"

namespace asap::internal {

// Whether `target` names the HTTP binding: "http://..." or "https://...", or
// a comma-separated list with such an item (a list that mixes them with
// gRPC addresses is then refused by HttpTransport::Create).
bool IsHttpTarget(absl::string_view target);

// Most base URLs one target may list.
inline constexpr size_t kMaxBaseUrls = 64;

// Round-robin over the base URLs of one target, with the health of each as
// the calls find it, like gRPC's round_robin over subchannels:
//
//   * Pick() hands out the URLs that are up in turn;
//   * a URL whose request could not connect (or whose connection broke), or
//     that answered 502, 503 or 504, is reported with ReportFailure() and
//     marked down: it is skipped for a backoff (initial_backoff, doubled
//     after each further failure up to max_backoff, with +-20% jitter);
//   * once its backoff has passed, one request (the next Pick) tries it
//     again while the others keep skipping it: a success (ReportSuccess)
//     marks it up, a failure starts a longer backoff;
//   * when every URL is down, Pick() hands out the one whose backoff ends
//     first (as a trial) rather than none.
// Thread-safe.
class UrlBalancer {
 public:
  struct Options {
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
  };
  using UrlStats = AsapClient::HttpStats::UrlStats;

  // `urls` must not be empty.
  explicit UrlBalancer(std::vector<std::string> urls);
  UrlBalancer(std::vector<std::string> urls, Options options);

  size_t size() const { return urls_.size(); }
  const std::string& url(size_t index) const { return urls_[index]; }

  // The index of the URL for the next request at `now`, counted as one
  // request to it. `avoid` (the URL that just failed the request being
  // retried) is taken only when no other URL is up.
  size_t Pick(absl::Time now, std::optional<size_t> avoid = std::nullopt);
  // Whether a URL other than `index` is up at `now` (or due for its trial).
  bool AnotherUp(size_t index, absl::Time now) const;

  void ReportSuccess(size_t index);
  void ReportFailure(size_t index, absl::Time now);

  // Times a URL went from up to down.
  uint64_t marked_down() const;
  std::vector<UrlStats> stats() const;

 private:
  struct State {
    bool down = false;
    // A request is trying the URL after its backoff (down only).
    bool trial = false;
    // Failures in a row (down only).
    int failures = 0;
    // When the URL may be tried again (down only).
    absl::Time retry_at = absl::InfinitePast();
    uint64_t requests = 0;
    uint64_t failures_total = 0;
  };

  // Whether `state` may take a request at `now`.
  static bool Usable(const State& state, absl::Time now);
  absl::Duration Backoff(int failures) const;

  const std::vector<std::string> urls_;
  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<State> states_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t marked_down_ ABSL_GUARDED_BY(mu_) = 0;
};

class HttpTransport {
 public:
  // InvalidArgument for a target that is not an http:// URL.
  static absl::StatusOr<std::unique_ptr<HttpTransport>> Create(
      const ClientOptions& options, std::shared_ptr<ManifestCache> cache);
  // Fails the requests in flight with asap:transport/cancelled and waits for
  // every call and callback.
  ~HttpTransport();

  // What the destructor does; afterwards every call fails with
  // asap:transport/cancelled. Idempotent.
  void Shutdown();

  // AsapClient's calls, with `call` already checked (ValidateCallOptions)
  // and its deadline resolved into `deadline`: its metadata go as headers,
  // and with wait_for_ready requests that could not connect are sent again
  // until `deadline`.
  absl::StatusOr<v1::Envelope> Send(v1::Envelope envelope,
                                    const CallOptions& call,
                                    absl::Time deadline);
  void SendAsync(v1::Envelope envelope, const CallOptions& call,
                 absl::Time deadline, AsapClient::SendCallback done);
  absl::StatusOr<v1::Envelope> SendStream(
      v1::Envelope envelope, const CallOptions& call, absl::Time deadline,
      const AsapClient::IntermediateCallback& on_intermediate);
  void SendStreamAsync(v1::Envelope envelope, const CallOptions& call,
                       absl::Time deadline,
                       AsapClient::IntermediateCallback on_intermediate,
                       AsapClient::SendCallback done);
  // `options` are checked by the caller, which also computed `deadline`.
  absl::StatusOr<AsapClient::BatchResults> SendBatch(
      std::vector<v1::Envelope> envelopes, const BatchOptions& options,
      const CallOptions& call, absl::Time deadline);
  absl::StatusOr<v1::Manifest> GetManifest(const CallOptions& call,
                                           absl::Time deadline);

  ChannelPool::Stats pool_stats() const;
  AsapClient::CompressionStats compression_stats() const;
  AsapClient::HttpStats http_stats() const;

 private:
  struct Call;
  class CallScope;
  struct StreamEvents;

  // `base_urls[i]` is reached through `connect_to[i]` (see
  // HttpRequest::connect_to) and named `names[i]` in stats;
  // `cache_key_base` names the target in manifest cache keys.
  HttpTransport(const ClientOptions& options,
                std::shared_ptr<ManifestCache> cache,
                std::vector<std::string> base_urls,
                std::vector<std::string> connect_to,
                std::vector<std::string> names, std::string cache_key_base);

  // FailedPrecondition when called on the engine thread (from a SendAsync
  // callback), where `call` would wait for that very thread.
  absl::Status NotFromCallback(absl::string_view call) const;
  // Fills in and validates the envelope as the gRPC path does.
  absl::Status Prepare(v1::Envelope* envelope) const;
  // Decides HTTP/1.1 or HTTP/2 once (HttpProtocol::kAuto).
  void DecideProtocol(absl::Time deadline);
  HttpVersion version() const;
  // Calls in flight at once over h2c.
  int H2cCapacity() const;
  // Adds `Authorization: Bearer ...` from options_.token_provider, if any.
  void AddAuthorization(HttpRequest* request);
  // A POST of `json` to `path` (below the base URL, which Run picks),
  // compressed when worth it (at `level`, or the configured one when -1).
  HttpRequest JsonPost(absl::string_view path, std::string json,
                       absl::Time deadline, int level = -1);
  // Runs `request`, whose url is a path below the base URL, on a base URL
  // picked by balancer_ (holding one engine slot, released before `done`),
  // retrying as the options say (and, with `wait_for_ready`, connection
  // failures until the request's deadline); `done` runs once, on the engine
  // thread, with the answer (whose url names the base URL that gave it).
  void Run(HttpRequest request, std::function<bool()> retry_allowed,
           std::function<void(absl::StatusOr<HttpResponse>)> done,
           bool wait_for_ready = false);
  // Sends `call` to base URL `index` after `delay`.
  void Attempt(std::shared_ptr<Call> call, size_t index, absl::Duration delay);
  // Called with each answer to `call` from base URL `index`.
  void OnAnswer(std::shared_ptr<Call> call, size_t index,
                absl::StatusOr<HttpResponse> response);
  // The request to send to base URL `index`.
  HttpRequest ForUrl(const HttpRequest& request, size_t index) const;
  // The decoded body of a 200 answer, or the ASAP error of the answer.
  absl::StatusOr<std::string> Body(absl::StatusOr<HttpResponse> response);
  void NoteVersion(const HttpResponse& response);
  absl::StatusOr<v1::Manifest> FetchManifest(
      const ManifestCache::Validator* stale, const CallOptions& call,
      absl::Time deadline, ManifestCache::FetchResult* out);
  // Starts POST /asap/stream for SendStream and SendStreamAsync: the events
  // go to `events` (see StreamEvents); `scope` is held until the request
  // ends. An error before the request starts is returned, and then nothing
  // reaches `events`.
  absl::Status StartStream(v1::Envelope envelope, const CallOptions& call,
                           absl::Time deadline,
                           std::shared_ptr<StreamEvents> events,
                           std::shared_ptr<CallScope> scope);
  // Sends each of `positions` in its own request, or in batch arrays.
  void SendBatchRequests(std::vector<v1::Envelope>& envelopes,
                         const std::vector<size_t>& positions, bool use_arrays,
                         int window, const CallOptions& call,
                         absl::Time deadline,
                         AsapClient::BatchResults* results);

  const ClientOptions options_;
  // The base URLs, and the CURLOPT_CONNECT_TO entry of each (https:// with
  // tls.server_name; empty otherwise).
  UrlBalancer balancer_;
  const std::vector<std::string> connect_to_;
  // Each base URL as the target gives it (tls.server_name aside).
  const std::vector<std::string> names_;
  // Names the target in manifest cache keys: the base URLs, joined by ",".
  const std::string cache_key_base_;
  const std::shared_ptr<ManifestCache> cache_;
  std::unique_ptr<HttpEngine> engine_;

  mutable absl::Mutex mu_;
  int active_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // 0: not decided; 1: HTTP/1.1; 2: HTTP/2 (h2c); 3: TLS, ALPN decides.
  int protocol_ ABSL_GUARDED_BY(mu_) = 0;
  bool deciding_ ABSL_GUARDED_BY(mu_) = false;
  // The server's answer to ASAP-Version: "" until known, "1.0" or "2.x".
  std::string server_version_ ABSL_GUARDED_BY(mu_);
  int64_t next_request_id_ ABSL_GUARDED_BY(mu_) = 0;
  AsapClient::CompressionStats compression_stats_ ABSL_GUARDED_BY(mu_);
  AsapClient::HttpStats http_stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asap::internal

#endif  // ASAP_CLIENT_HTTP_HTTP_TRANSPORT_H_
