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
#ifndef ASAP_CLIENT_HTTP_HTTP_TRANSPORT_H_
#define ASAP_CLIENT_HTTP_HTTP_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "client/asap_client.h"
#include "client/http/http_engine.h"

namespace asap::internal {

// Whether `target` names the HTTP binding ("http://..." or "https://...").
bool IsHttpTarget(absl::string_view target);

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

  absl::StatusOr<v1::Envelope> Send(v1::Envelope envelope);
  void SendAsync(v1::Envelope envelope, AsapClient::SendCallback done);
  absl::StatusOr<v1::Envelope> SendStream(
      v1::Envelope envelope,
      const AsapClient::IntermediateCallback& on_intermediate);
  absl::StatusOr<AsapClient::BatchResults> SendBatch(
      std::vector<v1::Envelope> envelopes, const BatchOptions& options);
  absl::StatusOr<v1::Manifest> GetManifest();

  ChannelPool::Stats pool_stats() const;
  AsapClient::CompressionStats compression_stats() const;
  AsapClient::HttpStats http_stats() const;

 private:
  struct Call;
  class CallScope;

  HttpTransport(const ClientOptions& options,
                std::shared_ptr<ManifestCache> cache, std::string base_url,
                std::vector<std::string> connect_to);

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
  // A POST of `json` to `path`, compressed when worth it (at `level`, or
  // the configured one when -1).
  // Adds `Authorization: Bearer ...` from options_.token_provider, if any.
  void AddAuthorization(HttpRequest* request);
  HttpRequest JsonPost(absl::string_view path, std::string json,
                       absl::Time deadline, int level = -1);
  // Runs `request` (holding one engine slot, released before `done`),
  // retrying as the options say; `done` runs once, on the engine thread.
  void Run(HttpRequest request, std::function<bool()> retry_allowed,
           std::function<void(absl::StatusOr<HttpResponse>)> done);
  void Attempt(std::shared_ptr<Call> call, int attempt, absl::Duration delay);
  // The decoded body of a 200 answer, or the ASAP error of the answer.
  absl::StatusOr<std::string> Body(absl::StatusOr<HttpResponse> response,
                                   absl::string_view url);
  void NoteVersion(const HttpResponse& response);
  absl::StatusOr<v1::Manifest> FetchManifest(
      const ManifestCache::Validator* stale, ManifestCache::FetchResult* out);
  // Sends each of `positions` in its own request, or in batch arrays.
  void SendBatchRequests(std::vector<v1::Envelope>& envelopes,
                         const std::vector<size_t>& positions, bool use_arrays,
                         int window, absl::Time deadline,
                         AsapClient::BatchResults* results);

  const ClientOptions options_;
  const std::string base_url_;
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
