// AsapServer: an ASAP agent served over gRPC.
//
//   asap::HandlerRegistry handlers;
//   handlers.Register("task.request", MyTaskHandler);
//   asap::ServerOptions options;
//   options.address = "127.0.0.1:0";          // port 0 picks a free port
//   options.manifest = my_manifest;
//   absl::StatusOr<std::unique_ptr<asap::AsapServer>> server =
//       asap::AsapServer::Start(std::move(options), std::move(handlers));
//   if (!server.ok()) return server.status();
//   std::cout << "listening on " << (*server)->address() << "\n";
//   (*server)->Wait();
//
// The server implements asap.v1.AsapService (Send, SendCompressed,
// GetManifest, SendBatch, SendStream), the standard gRPC health service
// (grpc.health.v1.Health) and server reflection, so grpcurl and any gRPC
// client can talk to it. With `http_address` it also serves ASAP's JSON-RPC
// over HTTP/1.1 and h2c (server/http/json_rpc_service.h), what the Python
// and TypeScript ASAP clients speak. Every envelope, on either binding, goes
// through EnvelopeDispatcher: validation, replay check, handler, response
// completion. Errors travel as described in asap/grpc_status.h (gRPC) and
// server/http/json_rpc.h (HTTP).
//
// The service runs on gRPC's callback API: no thread waits on a peer, and
// blocking handlers run on a fixed pool of handler threads. Every request is
// bounded before it is parsed (ServerLimits): gRPC's own gzip is inflated by
// asap with the message limit, JSON values and depth are counted on the
// wire bytes, and a memory quota turns overload into RESOURCE_EXHAUSTED.
#ifndef ASAP_SERVER_ASAP_SERVER_H_
#define ASAP_SERVER_ASAP_SERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/tls_options.h"
#include "asap/v1/manifest.pb.h"
#include "server/call_log.h"
#include "server/handler_registry.h"
#include "server/http/http_listener.h"
#include "server/http/json_rpc_service.h"
#include "server/security/authenticator.h"
#include "server/security/rate_limiter.h"
#include "server/state/idempotency_store.h"
#include "server/state/replay_store.h"

namespace asap {

// Bounds on what clients can make the server hold. Each default is chosen so
// that, all together, a server under attack stays well under 1 GB of memory
// while well-behaved clients keep being served.
struct ServerLimits {
  // Memory that requests in flight may hold (their bytes, decompressed and
  // parsed, and batch results not yet written). Past it, calls get
  // RESOURCE_EXHAUSTED (asap:transport/resource_exhausted) instead of the
  // process growing. 384 MB holds 30 maximal 10 MB envelopes at once, or
  // thousands of ordinary ones.
  size_t memory_quota_bytes = 384u << 20;
  // Memory gRPC's transport may use for its buffers (grpc::ResourceQuota);
  // 0 leaves gRPC unbounded.
  size_t transport_memory_bytes = 256u << 20;
  // JSON values per envelope and their nesting depth, checked on the bytes
  // before parsing (asap/wire_limits.h explains the defaults).
  int64_t max_json_values = 100000;
  int max_depth = 32;
  // Envelopes one SendBatch frame may hold (asap's client sends 100).
  int64_t max_envelopes_per_frame = 1000;
  // Frames of one SendBatch stream read but not yet answered; past it the
  // server stops reading that stream, so only that client waits.
  int batch_frames_in_flight = 8;
  // A SendBatch stream whose client reads no result for this long is
  // cancelled (a client that stopped reading would otherwise pin its
  // window's memory forever).
  absl::Duration stream_stall_timeout = absl::Seconds(30);
  // Concurrent calls on one HTTP/2 connection (gRPC's own default is
  // unlimited); asap's client pool opens another connection past 100.
  int max_concurrent_streams_per_connection = 100;
  // The server pings a connection idle this long and closes it when the
  // ping is not answered within keepalive_timeout.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Clients may ping at most this often (more gets the connection closed).
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  // A connection with no call for this long is closed.
  absl::Duration max_connection_idle = absl::Minutes(10);
  // Nonces remembered for replay checks: longest nonce and most entries.
  size_t max_nonce_bytes = 128;
  size_t max_nonces = 200000;
};

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (see AsapServer::port()).
  std::string address = "127.0.0.1:0";
  // TLS (1.2 or newer) on both listeners, and mutual TLS with
  // client_ca_file; plaintext clients are then refused. The HTTP listener
  // offers ALPN h2 and http/1.1, so HTTPS clients get HTTP/2. ReloadTls
  // reads the files again.
  ServerTlsOptions tls;
  // host:port of the HTTP binding: ASAP's JSON-RPC over HTTP/1.1 and h2c,
  // what the Python reference and TypeScript clients speak (routes in
  // server/http/json_rpc_service.h). Empty: gRPC only. Port 0 picks a free
  // port (see AsapServer::http_port()).
  std::string http_address;
  // The HTTP binding's transport bounds (connections, header size and
  // timeouts, streamed output); its address is http_address and its body
  // limit max_message_bytes.
  HttpListenerOptions http_transport;
  // The HTTP binding's routes: batch size, manifest max-age, how long SSE
  // streams stay resumable.
  JsonRpcServiceOptions http;
  // The manifest served by GetManifest. It must pass ValidateManifest; an
  // empty endpoints.asap (or one on port 0) is set to the bound address.
  v1::Manifest manifest;
  // Largest request message accepted, in bytes (10 MB, as the reference),
  // also after decompression. Bigger messages fail with RESOURCE_EXHAUSTED
  // (asap:transport/payload_too_large).
  int max_message_bytes = 10 * 1024 * 1024;
  // Responses at least this large are compressed: SendCompressed answers in
  // an encoding the client accepts, plain Send answers with gRPC's gzip when
  // the client announces it.
  size_t compression_threshold_bytes = 1024;
  // Envelope validation rules (timestamp window, payload schemas).
  ValidationOptions validation;
  // When positive, GetManifest answers carry this as a TTL hint (initial
  // metadata `asap-manifest-max-age`, whole seconds): caching clients keep the
  // manifest at most this long. Zero sends no hint.
  absl::Duration manifest_max_age = absl::ZeroDuration();
  // Refuse an envelope whose extensions.nonce was seen within the timestamp
  // window (asap:protocol/invalid_nonce).
  bool reject_replayed_nonces = true;
  // Where nonces are remembered (with reject_replayed_nonces). Null: in this
  // process (NonceStore, sized by limits.max_nonce_bytes and max_nonces).
  // Replicas behind a load balancer share one, for example RedisReplayStore
  // (server/state/redis_stores.h), so a replay is refused on every replica.
  std::shared_ptr<ReplayStore> replay_store;
  // Where handler responses are kept by sender and envelope id, so that a
  // retried envelope runs its handler once and gets the first response
  // again, on whichever replica shares the store (EnvelopeDispatcher::
  // set_idempotency_store has the rules). Null (the default): none, every
  // envelope runs its handler. InMemoryIdempotencyStore covers one replica,
  // RedisIdempotencyStore all of them.
  std::shared_ptr<IdempotencyStore> idempotency_store;
  // Threads that run blocking handlers (unary calls, and SendBatch frames,
  // whose envelopes run concurrently on them); 0 = 8 per core, at least 16.
  // Async handlers (HandlerRegistry::RegisterAsync) need none.
  int handler_threads = 0;
  // Former name of handler_threads, used when handler_threads is 0.
  int batch_workers = 0;
  // Resource bounds (memory, JSON size, streams, keepalive, nonces).
  ServerLimits limits;
  // Authentication (server/security/authenticator.h): a bearer-token
  // validator and/or client certificates. When on, every call on both
  // bindings must authenticate (UNAUTHENTICATED / JSON-RPC -32600 with
  // WWW-Authenticate: Bearer), every envelope's sender must be the caller
  // (PERMISSION_DENIED asap:auth/sender_mismatch / -32602), reflection is
  // off and the HTTP metrics route needs credentials too. The manifest and
  // the health routes stay open. docs/SECURITY.md has the whole picture.
  AuthOptions auth;
  // Per-caller rate limits (server/security/rate_limiter.h), counted per
  // envelope: per authenticated agent, else per client address. Off by
  // default; when on, the reference's 10/s and 100/min unless set.
  // Over the limit: RESOURCE_EXHAUSTED asap:transport/rate_limited with a
  // `retry-after` trailer / HTTP 429 with Retry-After.
  RateLimitOptions rate_limit;
  // One log line per envelope call on either binding (server/call_log.h):
  // level, text or JSON, and the sink (stderr by default). Off by default.
  CallLogOptions call_log;
  // Serve grpc.health.v1.Health and server reflection (reflection is off
  // whenever authentication is on: it would describe the agent to anyone).
  bool enable_health_service = true;
  bool enable_reflection = true;
  // gRPC server interceptors, run on every call in order: a hook for
  // instrumentation (counting peers or calls, tracing) that needs to see each
  // gRPC call without changing the handlers. Empty by default.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
};

class AsapServer {
 public:
  // Starts serving `handlers` on options.address. Returns InvalidArgument for
  // an invalid manifest or options, Unavailable when the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<AsapServer>> Start(
      ServerOptions options, HandlerRegistry handlers);

  AsapServer(const AsapServer&) = delete;
  AsapServer& operator=(const AsapServer&) = delete;
  // Shuts down (as Shutdown()) and waits.
  ~AsapServer();

  // The port actually bound.
  int port() const;
  // host:port actually bound, for example "127.0.0.1:43511".
  std::string address() const;
  // The HTTP binding's bound port and host:port; 0 and "" without one.
  int http_port() const;
  std::string http_address() const;

  // Counters of the server's resource accounting (ServerLimits).
  struct Stats {
    size_t memory_in_use = 0;     // bytes reserved by requests in flight
    size_t memory_peak = 0;       // most ever reserved at once
    uint64_t memory_refused = 0;  // requests refused at the memory quota
  };
  Stats stats() const;

  // The server's metrics (both bindings) in the Prometheus text exposition
  // format; server/metrics.h lists them.
  std::string MetricsText() const;

  // Stops accepting calls and lets calls in flight finish; calls still running
  // after `grace` are cancelled. Health turns NOT_SERVING first. Safe to call
  // more than once and from any thread.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // Blocks until the server has shut down.
  void Wait();

  // Reads the TLS files (ServerOptions::tls) again and serves the new
  // certificate, key and client CAs on both listeners: connections opened
  // from then on (on gRPC within a second) use them, connections and calls
  // already in flight are not disturbed. When a file is unreadable or the
  // key does not match the certificate, returns InvalidArgument and keeps
  // serving the previous ones. FailedPrecondition without TLS. `asap serve`
  // calls it on SIGHUP. Thread-safe.
  absl::Status ReloadTls();

 private:
  class Impl;
  explicit AsapServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asap

#endif  // ASAP_SERVER_ASAP_SERVER_H_
