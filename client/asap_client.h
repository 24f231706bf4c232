// AsapClient: talks ASAP to one agent, over gRPC or over ASAP's JSON-RPC
// HTTP binding. The target picks the binding; the calls are the same:
//
//   asap::ClientOptions options;
//   options.target = "127.0.0.1:50051";  // gRPC
//   // or options.target = "http://127.0.0.1:8080";  // JSON-RPC over HTTP
//   // or "https://agent.example:8443" (options.tls for its CA)
//   absl::StatusOr<std::unique_ptr<asap::AsapClient>> client =
//       asap::AsapClient::Create(options);
//   if (!client.ok()) return client.status();
//
//   absl::StatusOr<asap::v1::Manifest> manifest = (*client)->GetManifest();
//
//   asap::v1::Envelope request;
//   request.set_sender("urn:asap:agent:me");
//   request.set_recipient(manifest->id());
//   request.set_payload_type("task.request");
//   ...
//   absl::StatusOr<asap::v1::Envelope> response = (*client)->Send(request);
//   if (!response.ok()) {
//     // asap::ErrorCodeOf(response.status()) is the ASAP error code.
//   }
//
//   // One call with its own deadline and metadata (client/call_options.h):
//   asap::CallOptions call;
//   call.deadline = absl::Now() + absl::Seconds(2);
//   call.metadata = {{"x-tenant", "acme"}};
//   response = (*client)->Send(request, call);
//
// Every call takes a connection from the client's pool: a ChannelPool of
// gRPC channels (client/channel_pool.h), or libcurl's HTTP/1.1 keep-alive or
// HTTP/2 connections with the same pool_connections, pool_maxsize and
// pool_timeout (client/http/http_transport.h). The client is thread-safe:
// share one per target.
// Destroying it cancels the calls still in flight and waits for them (see
// ~AsapClient).
#ifndef ASAP_CLIENT_ASAP_CLIENT_H_
#define ASAP_CLIENT_ASAP_CLIENT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/time/clock.h"
#include "asap/tls_options.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "asap/v1/service.pb.h"
#include "client/call_options.h"
#include "client/channel_pool.h"
#include "client/compression_options.h"
#include "client/http/http_options.h"
#include "client/manifest_cache.h"
#include "client/token_provider.h"

namespace asap {
namespace internal {
class CallTracker;
class HttpTransport;
class RetryControl;
}  // namespace internal

// How the client caches the agent's manifest (client/manifest_cache.h,
// client/manifest_cache_interceptor.h).
struct ManifestCacheSettings {
  // Answer GetManifest from the cache while the entry is fresh.
  bool enabled = true;
  // Lifetime of an entry (the server's `asap-manifest-max-age` hint can only
  // shorten it).
  absl::Duration ttl = absl::Minutes(5);
  // Entries kept, least recently used evicted first; 0 = unlimited.
  size_t max_size = 1000;
  // Share one cache between clients (all clients of one process, say). When
  // null the client makes its own from ttl and max_size.
  std::shared_ptr<ManifestCache> shared_cache;
  // Time source for expiry; null = the real clock. Tests use a FakeClock.
  const Clock* clock = nullptr;
};

// How SendBatch streams a batch.
struct BatchOptions {
  // Stop at the first failed envelope and return its error (with its
  // position) instead of a result list, as the reference's
  // return_exceptions=False.
  bool fail_fast = false;
  // Deadline of the whole batch; zero = ClientOptions::timeout.
  absl::Duration timeout = absl::ZeroDuration();
  // A frame (one gRPC message) carries at most this many envelopes (a batch
  // of fewer than two full frames is cut in two halves, which the server
  // runs concurrently) ...
  int max_envelopes_per_frame = 100;
  // ... and at most this many bytes (never more than the message limit).
  // Frames of tens of KB measured fastest here (docs/PERFORMANCE.md).
  size_t max_frame_bytes = 64 * 1024;
  // Envelopes sent but not yet answered, at most: the flow-control window
  // that keeps the stream full without buffering the whole batch.
  int window = 2000;
};

// Retries of gRPC calls that did not reach a working agent: the call failed
// with UNAVAILABLE (asap:transport/unavailable: connection refused or reset,
// no address ready, a server draining, a gateway's 502/503/504). Send,
// SendAsync and GetManifest are retried, and SendStream while it has
// received nothing; the same envelope (same id) is sent again, so an agent
// that remembers ids (an idempotency store) runs it once. A SendBatch
// stream that breaks so is resumed: the envelopes that have no result yet,
// and only those, go again on a new stream (each resume is one retry). Errors
// the agent gave after reading the envelope (invalid, unauthenticated,
// forbidden, a handler's own error other than UNAVAILABLE) and deadlines are
// never retried. The wait before retry n (from 0) is initial_backoff * 2^n plus
// up to 20% jitter, at most max_backoff, and no retry starts past the call's
// deadline. A call waiting to be retried keeps its pool stream. HTTP targets
// retry by ClientOptions::http.retry instead.
//
// The retry budget keeps retries from multiplying the load on agents that
// are failing: a bucket of `budget_tokens` tokens, full at first, gains
// `budget_ratio` of a token per call and loses one per retry; with less
// than one token left a failed call is not retried. So retries are at most
// budget_tokens + budget_ratio * calls (100 + 20% by default). The bucket
// must hold at least the calls in flight: when a replica dies, every call it
// held fails at once and each needs a token to go elsewhere.
struct RetryOptions {
  // Retries after the first attempt; 0 disables retries.
  int max_retries = 3;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double budget_ratio = 0.2;
  int budget_tokens = 100;
};

struct ClientOptions {
  // The agent. A gRPC target: "host:port", "ipv4:127.0.0.1:p1,127.0.0.1:p2",
  // "unix:/path", ...; or the base URL of its HTTP binding:
  // "http://host:port[/prefix]" or "https://..." (the routes /asap,
  // /asap/stream and /.well-known/asap/manifest.json are below it).
  // Several base URLs of one agent, comma-separated and of one scheme
  // ("http://10.0.0.1:8080,http://10.0.0.2:8080", at most 64), are
  // balanced like gRPC's round_robin: calls go in turn to the URLs that are
  // up; a URL that refuses connections or answers 502/503/504 is skipped
  // for a backoff (100 ms doubling to 5 s) and then tried again; a retry
  // (http.retry) goes to another URL than the one that failed. They share
  // one manifest cache entry (one agent).
  std::string target;
  // Deadline of each call (a call's CallOptions::deadline, when set, instead).
  absl::Duration timeout = absl::Seconds(30);
  // Largest message sent or received, in bytes (the server's default limit).
  int max_message_bytes = 10 * 1024 * 1024;
  // Validate an envelope before sending it, so a bad envelope fails here with
  // the same ASAP error the server would give. (id, timestamp and asap_version
  // are filled in when empty either way.)
  bool validate_before_send = true;
  ValidationOptions validation;
  // The connection pool: pool_connections, pool_maxsize, pool_timeout.
  ChannelPoolOptions pool;
  // The manifest cache (TTL 5 min, 1000 entries, on by default).
  ManifestCacheSettings manifest_cache;
  // Compression of large Send bodies (brotli above 1 KB by default).
  CompressionOptions compression;
  // HTTP targets only: HTTP/1.1 or HTTP/2, v2 negotiation, retries.
  HttpClientOptions http;
  // TLS: for gRPC targets when tls.enabled, for https:// targets always.
  ClientTlsOptions tls;
  // gRPC targets: retries of calls that could not reach the agent (see
  // RetryOptions).
  RetryOptions retry;
  // A Send or SendAsync refused for the agent's rate limit
  // (asap:transport/rate_limited with a retry-after) is sent again after the
  // wait the agent asked for, at most this many times, never past `timeout`
  // nor for a wait longer than http.retry.max_retry_after. These retries are
  // counted apart from `retry` and take nothing from its budget. Other calls
  // return the error, whose RetryAfterOf (asap/errors.h) tells the wait.
  // Over HTTP, http.retry.max_retries governs the same retries for every
  // call.
  int rate_limit_retries = 3;
  // Bearer tokens for agents that require authentication
  // (client/token_provider.h); null sends none.
  std::shared_ptr<TokenProvider> token_provider;
};

class AsapClient {
 public:
  // InvalidArgument for an empty target or invalid pool or retry options.
  // Does not
  // connect: the first call does.
  static absl::StatusOr<std::unique_ptr<AsapClient>> Create(
      ClientOptions options);

  // Cancels every call in flight (their results are asap:transport/cancelled,
  // CANCELLED, unless they had already finished) and returns once each has
  // returned and every SendAsync callback has run. Calls waiting for pool
  // capacity stop waiting. Calls made after destruction began fail with
  // asap:transport/cancelled. Must not be called from a SendAsync callback.
  // A GetManifest fetch in progress is not interrupted: it is waited for (at
  // most `timeout`).
  ~AsapClient();
  AsapClient(const AsapClient&) = delete;
  AsapClient& operator=(const AsapClient&) = delete;

  // Sends one envelope and returns the agent's response envelope. Fills in id
  // and timestamp when empty. Errors: the ASAP error of local validation or of
  // the server (asap/grpc_status.h), asap:transport/unavailable when the agent
  // cannot be reached, asap:transport/deadline_exceeded after `timeout`,
  // asap:transport/pool_exhausted when the pool has no capacity. An attempt
  // that could not reach a working agent is retried (ClientOptions::retry)
  // with the same envelope.
  absl::StatusOr<v1::Envelope> Send(v1::Envelope envelope);
  // Send with this call's deadline, metadata and wait_for_ready
  // (client/call_options.h). InvalidArgument, before anything is sent, for
  // metadata ValidateCallOptions refuses; asap:transport/deadline_exceeded at
  // once for a deadline already past.
  absl::StatusOr<v1::Envelope> Send(v1::Envelope envelope,
                                    const CallOptions& call);

  // Callback form of Send: returns at once (after waiting for pool capacity,
  // at most pool_timeout) and calls `done` exactly once, on a gRPC thread (or
  // on this thread, for an error before the call starts), with the result.
  // Lets one thread keep thousands of calls in flight. `done` must not block
  // for long, and must not destroy the client.
  using SendCallback = std::function<void(absl::StatusOr<v1::Envelope>)>;
  void SendAsync(v1::Envelope envelope, SendCallback done);
  // SendAsync with this call's CallOptions (copied; errors as Send's, given
  // to `done` on this thread).
  void SendAsync(v1::Envelope envelope, const CallOptions& call,
                 SendCallback done);

  // Sends one envelope over SendStream and returns the handler's final
  // envelope; each intermediate envelope it sends before that (for example
  // a task.update with progress) is passed to `on_intermediate` (may be
  // null) as it arrives, on this thread. The wire marker `payload.final` is
  // removed from both. `timeout` bounds the whole stream. Errors as Send,
  // and asap:internal/error when the stream ends without a final envelope.
  using IntermediateCallback = std::function<void(const v1::Envelope&)>;
  absl::StatusOr<v1::Envelope> SendStream(
      v1::Envelope envelope, const IntermediateCallback& on_intermediate);
  // SendStream with this call's CallOptions (the deadline bounds the whole
  // stream; errors as Send's).
  absl::StatusOr<v1::Envelope> SendStream(
      v1::Envelope envelope, const CallOptions& call,
      const IntermediateCallback& on_intermediate);

  // Callback form of SendStream: returns at once (after waiting for pool
  // capacity, at most pool_timeout). `on_intermediate` (may be null) gets
  // each intermediate envelope in order, and then `done` runs exactly once
  // with the final envelope or the error; none of them runs after `done`.
  // They run on a gRPC or HTTP engine thread (`done` on this thread for an
  // error before the call starts), one at a time, and the same rules as
  // SendAsync's `done` apply: no blocking for long, no destroying the client.
  // Destroying the client ends the stream with asap:transport/cancelled.
  void SendStreamAsync(v1::Envelope envelope,
                       IntermediateCallback on_intermediate, SendCallback done);
  void SendStreamAsync(v1::Envelope envelope, const CallOptions& call,
                       IntermediateCallback on_intermediate, SendCallback done);

  // Sends `envelopes` over one SendBatch stream and returns one result per
  // envelope, in the same order: the response envelope or that envelope's own
  // error (one bad envelope does not sink the batch). A stream that fails
  // with UNAVAILABLE (the agent died, or drains) is resumed on a new stream
  // with the envelopes that have no result yet (RetryOptions). Envelopes
  // that still got no answer (deadline, retries spent) carry the stream's
  // error. Returns InvalidArgument for an empty batch or invalid
  // options, and with options.fail_fast the first error, prefixed by the
  // envelope's position.
  using BatchResults = std::vector<absl::StatusOr<v1::Envelope>>;
  absl::StatusOr<BatchResults> SendBatch(std::vector<v1::Envelope> envelopes,
                                         const BatchOptions& options = {});
  // SendBatch with this call's CallOptions: the metadata goes with every
  // stream (gRPC) or request (HTTP) of the batch, wait_for_ready applies to
  // each, and call.deadline bounds the whole batch. A deadline may come from
  // call.deadline or from options.timeout, not both (InvalidArgument).
  //
  //   asap::CallOptions call;
  //   call.metadata = {{"x-tenant", "acme"}};
  //   auto results = client->SendBatch(std::move(batch), {}, call);
  absl::StatusOr<BatchResults> SendBatch(std::vector<v1::Envelope> envelopes,
                                         const BatchOptions& options,
                                         const CallOptions& call);

  // The agent's manifest: from the manifest cache while fresh (no network),
  // otherwise fetched once and cached. Errors as Send; a failed fetch is not
  // cached.
  absl::StatusOr<v1::Manifest> GetManifest();
  // GetManifest with this call's CallOptions, which apply when the manifest
  // is fetched: a fresh cache entry is returned as it is, and over HTTP a
  // fetch already in progress for another caller is shared.
  absl::StatusOr<v1::Manifest> GetManifest(const CallOptions& call);

  // The client's manifest cache (hits, misses, fetches in stats()), or null
  // when caching is off.
  ManifestCache* manifest_cache() const { return manifest_cache_.get(); }

  // Pool counters (connections opened, waits, ...).
  ChannelPool::Stats pool_stats() const;

  // gRPC targets: the retries made (ClientOptions::retry and rate-limit
  // resends) and those the retry budget refused.
  struct RetryStats {
    uint64_t retries = 0;             // calls sent again after UNAVAILABLE
    uint64_t rate_limit_retries = 0;  // sent again after rate_limited
    uint64_t budget_refusals = 0;     // retryable failures not retried
    // SendBatch streams resumed on a new stream (each also counts as a
    // retry), and the envelopes sent again on them.
    uint64_t batch_resumes = 0;
    uint64_t batch_envelopes_resent = 0;
  };
  RetryStats retry_stats() const;

  // Compression counters: bodies compressed and their sizes.
  struct CompressionStats {
    uint64_t requests_compressed = 0;
    uint64_t request_bytes_raw = 0;   // serialized size of those requests
    uint64_t request_bytes_sent = 0;  // their compressed size
    uint64_t responses_compressed = 0;
    uint64_t response_bytes_received = 0;
    uint64_t response_bytes_raw = 0;
    // The encodings the target advertised in `asap-accept-encoding` ("br,
    // gzip"); empty until it has, and while it is empty large bodies go by
    // plain Send.
    std::string server_encodings;
  };
  CompressionStats compression_stats() const;

  // HTTP targets: what the client found out and did; empty for gRPC.
  struct HttpStats {
    std::string protocol;        // "h2c", "http/1.1"; "" until known
    std::string server_version;  // "1.0", "2.2", ...; "" until known
    uint64_t requests = 0;       // HTTP requests made, retries included
    uint64_t retries = 0;
    uint64_t batch_arrays = 0;  // v2 batch arrays sent by SendBatch
    uint64_t connections_opened = 0;
    uint64_t manifest_not_modified = 0;  // 304 answers to revalidations
    uint64_t request_bytes = 0;          // request bodies on the wire
    uint64_t response_bytes = 0;         // response bodies on the wire
    // Requests sent again to another base URL than the one that failed
    // them (targets listing several), and times a base URL was marked down.
    uint64_t url_failovers = 0;
    uint64_t urls_marked_down = 0;
    // Each base URL of the target, in the target's order.
    struct UrlStats {
      std::string url;
      uint64_t requests = 0;  // requests sent to it, retries included
      uint64_t failures = 0;  // connection failures, 502, 503 and 504
      bool down = false;      // skipped now, until its backoff ends
    };
    std::vector<UrlStats> urls;
  };
  HttpStats http_stats() const;

  const ClientOptions& options() const { return options_; }

 private:
  struct SendCall;
  struct AsyncSend;
  class StreamReader;
  // Retries one call has made so far.
  struct RetryCounts {
    int unavailable = 0;
    int rate_limited = 0;
  };

  explicit AsapClient(ClientOptions options);
  absl::Status Prepare(v1::Envelope* envelope) const;
  // The deadline of a call with `call`: its own, or now + timeout.
  absl::Time DeadlineOf(const CallOptions& call) const;
  // ValidateCallOptions, and deadline_exceeded for a `deadline` already past.
  static absl::Status CheckCall(const CallOptions& call, absl::Time deadline);
  // Readies a fresh context for one attempt of a call with `call`.
  static void ApplyCallOptions(const CallOptions& call, absl::Time deadline,
                               grpc::ClientContext* context);
  // A Send registered with calls_ (asap:transport/cancelled once the client
  // is being destroyed).
  absl::StatusOr<std::unique_ptr<SendCall>> BeginSend();
  // Everything the Send needs before its RPC starts: the envelope prepared
  // and encoded, a stream leased, the context readied (`deadline` and
  // call->call_options).
  absl::Status StartSend(v1::Envelope envelope, absl::Time deadline,
                         SendCall* call);
  // Readies `call` for another attempt: a fresh registration and context
  // (a gRPC context serves one RPC), the same request and stream.
  absl::Status NextAttempt(SendCall* call, absl::Time deadline);
  // A SendAsync or SendStreamAsync up to its first attempt (StartSend);
  // null, after `done` ran with the error, when it cannot start.
  std::unique_ptr<AsyncSend> BeginAsync(v1::Envelope envelope,
                                        const CallOptions& call,
                                        absl::Time deadline, SendCallback done);
  // Starts one attempt of a SendAsync; OnAsyncDone gets its result.
  void StartAsyncAttempt(std::unique_ptr<AsyncSend> send);
  void OnAsyncDone(std::unique_ptr<AsyncSend> send, const grpc::Status& status);
  // Runs the SendAsync callback with `result` and ends the call.
  static void CompleteAsync(std::unique_ptr<AsyncSend> send,
                            absl::StatusOr<v1::Envelope> result);
  // Starts one attempt of a SendStreamAsync (a StreamReader reads it), and
  // what follows its end: the callback, or a retry while nothing arrived.
  void StartStreamAttempt(std::unique_ptr<AsyncSend> send);
  void OnStreamDone(std::unique_ptr<AsyncSend> send, const grpc::Status& status,
                    bool received_any, std::optional<v1::Envelope> final);
  // Retries `send` after `wait` on the retry alarm, by `start`, or completes
  // it with the error that stopped the retry.
  void RetryAsyncAfter(absl::Duration wait, std::unique_ptr<AsyncSend> send,
                       void (AsapClient::*start)(std::unique_ptr<AsyncSend>));
  // The result of a finished Send RPC (decoded, counted, advertisement noted).
  absl::StatusOr<v1::Envelope> FinishSend(SendCall& call,
                                          const grpc::Status& status);
  // Records what the target advertised in the initial metadata of `context`.
  // `authoritative`: the call was answered by the target itself, so no
  // advertisement means it has none (a hijacked or failed call says nothing).
  void NoteAdvertisement(const grpc::ClientContext& context,
                         bool authoritative);
  std::string server_encodings() const;

  // How long to wait before resending a Send the agent refused with a
  // rate limit (attempt counts from 0); nullopt: do not resend.
  std::optional<absl::Duration> RateLimitWait(const absl::Status& status,
                                              int attempt,
                                              absl::Time give_up) const;
  // How long to wait before sending again a call whose attempt failed with
  // `status` (`error` as the client reports it), counting the retry in
  // `counts` and the budget; nullopt: do not retry. `rate_limits`: whether
  // rate-limit refusals are resent too.
  std::optional<absl::Duration> RetryWait(const grpc::Status& status,
                                          const absl::Status& error,
                                          bool rate_limits, absl::Time deadline,
                                          RetryCounts* counts) const;

  const ClientOptions options_;
  // Calls in flight, cancelled and waited for by the destructor. Shared with
  // the calls, so that one ending while the destructor returns touches no
  // freed memory.
  const std::shared_ptr<internal::CallTracker> calls_;
  // The retry budget and the waits between attempts (interrupted by the
  // destructor).
  const std::shared_ptr<internal::RetryControl> retries_;
  std::shared_ptr<ManifestCache> manifest_cache_;
  std::unique_ptr<ChannelPool> pool_;
  // Set for an http:// target; every call goes there instead.
  std::unique_ptr<internal::HttpTransport> http_;
  mutable absl::Mutex stats_mu_;
  CompressionStats compression_stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace asap

#endif  // ASAP_CLIENT_ASAP_CLIENT_H_
