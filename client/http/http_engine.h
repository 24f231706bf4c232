// HttpEngine: the client's HTTP connections, on libcurl's multi interface.
//
// One engine thread drives every transfer of one client: HTTP/1.1 keep-alive
// connections (one request at a time each) or HTTP/2 connections carrying
// many requests at once. The pool's bounds are libcurl's:
//
//   * pool_maxsize: most connections at once (CURLMOPT_MAX_HOST_CONNECTIONS,
//     CURLMOPT_MAX_TOTAL_CONNECTIONS);
//   * pool_connections: idle connections kept for reuse
//     (CURLMOPT_MAXCONNECTS);
//   * pool_timeout: longest a request waits for capacity. The engine admits
//     at most `capacity` requests at once (pool_maxsize, times the streams of
//     a connection once the peer speaks HTTP/2); Acquire() waits for a slot
//     and fails with asap:transport/pool_exhausted past pool_timeout.
//
//   HttpEngine engine(options);
//   if (absl::Status s = engine.Acquire(); !s.ok()) return s;  // one slot
//   engine.Start(std::move(request), [](absl::StatusOr<HttpResponse> r) {
//     ...  // on the engine thread; the slot is still held
//   });
//   ...   // engine.Release() once the caller is done with the slot
//
// Requests may go to several hosts (the base URLs of a balanced target);
// HTTP/2 connections are opened and shared per origin (scheme, host, port).
//
// Thread-safe. Completion callbacks run on the engine thread and must not
// block; they may Start() further requests (a retry, say).
#ifndef ASAP_CLIENT_HTTP_HTTP_ENGINE_H_
#define ASAP_CLIENT_HTTP_HTTP_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace asap::internal {

struct HttpEngineOptions {
  // Most connections open at once. >= 1.
  int max_connections = 100;
  // Idle connections kept for reuse. >= 1.
  int keep_alive_connections = 100;
  // Requests one HTTP/2 connection carries at once.
  int max_streams_per_connection = 100;
  // Longest Acquire() waits for a slot.
  absl::Duration pool_timeout = absl::Seconds(5);
  // For https:// URLs: the PEM roots to trust (empty: the system's), and a
  // client certificate and key.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

enum class HttpVersion {
  kHttp1,
  // HTTP/2 over cleartext without an upgrade (h2c "prior knowledge").
  kHttp2PriorKnowledge,
  // TLS, where ALPN picks HTTP/2 or HTTP/1.1.
  kTlsAlpn,
};

struct HttpRequest {
  // "GET", "HEAD" or "POST".
  std::string method = "POST";
  std::string url;
  // Whole header lines, "Name: value".
  std::vector<std::string> headers;
  // Shared, so that a retry sends the same bytes without copying them.
  std::shared_ptr<const std::string> body;
  HttpVersion version = HttpVersion::kHttp1;
  // For https:// URLs: a libcurl CURLOPT_CONNECT_TO entry
  // ("name:port:host:port", to check a certificate for `name` while
  // connecting to `host`); empty connects to the URL's host.
  std::string connect_to;
  // The request fails with asap:transport/deadline_exceeded at this time.
  absl::Time deadline = absl::InfiniteFuture();
  // Largest response body accepted (as received, before any decoding); a
  // larger one fails with asap:transport/payload_too_large.
  size_t max_response_bytes = 10 * 1024 * 1024;
  // When set, the response body is handed here as it arrives (on the engine
  // thread) instead of being collected; returning false aborts the request
  // with asap:transport/cancelled. It is also called with an empty chunk
  // from time to time while the request waits for data, so that a request
  // whose reader has gone away ends without waiting for its deadline.
  std::function<bool(absl::string_view)> on_body_data;
};

struct HttpResponse {
  // The request's URL.
  std::string url;
  int status = 0;
  bool http2 = false;
  // Header names in lower case, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Bytes of the request body and of the response body on the wire.
  size_t request_body_bytes = 0;
  size_t response_body_bytes = 0;

  // The first header named `name` (lower case), or null.
  const std::string* Header(absl::string_view name) const;
};

// The libcurl result code behind an engine error, when there is one.
std::optional<int> CurlCodeOf(const absl::Status& status);

// Whether an engine error ended the request before any of it was sent: no
// connection could be opened (refused, unreachable, name not resolved, the
// deadline passed while connecting) or the request never left the client.
// Such a request may go anywhere else as it is.
bool NotSent(const absl::Status& status);

class HttpEngine {
 public:
  using Done = std::function<void(absl::StatusOr<HttpResponse>)>;

  struct Stats {
    uint64_t requests = 0;            // requests started
    uint64_t connections_opened = 0;  // TCP connections libcurl opened
    uint64_t waits = 0;               // Acquire() calls that had to wait
    uint64_t timeouts = 0;            // Acquire() calls that failed
    int in_flight = 0;                // slots held now
  };

  explicit HttpEngine(HttpEngineOptions options);
  // Shutdown(), then joins the engine thread.
  ~HttpEngine();
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  // Takes one slot, waiting for one at most pool_timeout (and never past
  // `deadline`): asap:transport/pool_exhausted then, asap:transport/cancelled
  // once the engine shuts down.
  // With `wait_past_pool_timeout` the wait ends only at `deadline` (a batch
  // waiting for its own requests to finish).
  absl::Status Acquire(absl::Time deadline = absl::InfiniteFuture(),
                       bool wait_past_pool_timeout = false);
  void Release();

  // Slots: requests admitted at once. Raising it wakes waiters that now fit.
  void SetCapacity(int capacity);

  // Starts `request` after `delay`; `done` runs exactly once, on the engine
  // thread (or on this thread when the engine has shut down, with
  // asap:transport/cancelled).
  void Start(HttpRequest request, Done done,
             absl::Duration delay = absl::ZeroDuration());

  // Fails every request in progress or waiting with asap:transport/cancelled
  // (their callbacks have run when it returns, unless called from one), and
  // refuses new ones. Idempotent.
  void Shutdown();

  Stats stats() const;

  // Whether the caller runs on the engine thread (in a completion callback).
  bool OnEngineThread() const;

 private:
  struct Transfer;
  // The HTTP/2-with-prior-knowledge state of one origin (engine thread only):
  // an h2c connection is believed open; a request that opens one is
  // running; the HTTP/2 requests waiting for it.
  struct H2Origin {
    bool live = false;
    bool opener_running = false;
    // Set once the opener's connection is known to speak HTTP/2 (also from
    // its header callback, where libcurl must not be re-entered).
    bool confirmed = false;
    Transfer* opener = nullptr;  // the running opener, while it waits
    std::deque<std::unique_ptr<Transfer>> waiting;
  };

  // The state of the origin of `url` ("http://host:port"), made on first use.
  H2Origin* OriginOf(absl::string_view url);
  void Run();
  // Starts a due transfer, or holds an HTTP/2 one while an h2c connection
  // is being opened (engine thread).
  void Admit(std::unique_ptr<Transfer> transfer);
  void StartTransfer(std::unique_ptr<Transfer> transfer);
  // Fails a transfer that never reached libcurl.
  void FailBeforeStart(std::unique_ptr<Transfer> transfer, absl::Status error);
  // Admits the transfers of `origin` held by Admit, once its opener has
  // finished.
  void ReleaseWaiting(H2Origin* origin);
  // Fails held transfers whose deadline has passed.
  void ExpireWaiting();
  bool AnyWaiting() const;
  void FinishTransfer(Transfer* transfer, int curl_code);

  const HttpEngineOptions options_;
  void* multi_ = nullptr;  // CURLM*, used by the engine thread only

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int capacity_ ABSL_GUARDED_BY(mu_);
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // Requests to start, by start time.
  std::multimap<absl::Time, std::unique_ptr<Transfer>> queued_
      ABSL_GUARDED_BY(mu_);
  // Transfers added to the multi handle (engine thread only).
  absl::flat_hash_map<Transfer*, std::unique_ptr<Transfer>> running_;
  // Those of them whose HTTP/2 answer has begun and not ended.
  int h2_receiving_ = 0;
  // By origin (engine thread only).
  absl::flat_hash_map<std::string, std::unique_ptr<H2Origin>> h2_origins_;
  std::thread thread_;
};

}  // namespace asap::internal

#endif  // ASAP_CLIENT_HTTP_HTTP_ENGINE_H_
