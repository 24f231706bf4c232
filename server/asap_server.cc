#include "server/asap_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/manifest.h"
#include "server/dispatcher.h"
#include "server/grpc/asap_service.h"
#include "server/grpc/reloadable_tls.h"
#include "server/metrics.h"
#include "server/nonce_store.h"
#include "server/worker_pool.h"

namespace asap {
namespace {

// Takes gRPC's reflection service out of one server: the reflection plugin
// registers itself process-wide, so a server that must not describe itself
// (authentication on, or enable_reflection false) removes it here.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == "proto_server_reflection";
                       }),
        plugins->end());
  }
};

}  // namespace

namespace {

int HandlerThreads(const ServerOptions& options) {
  if (options.handler_threads > 0) return options.handler_threads;
  if (options.batch_workers > 0) return options.batch_workers;
  return std::max(16,
                  8 * static_cast<int>(std::thread::hardware_concurrency()));
}

int Millis(absl::Duration duration) {
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(duration), INT32_MAX));
}

}  // namespace

class AsapServer::Impl {
 public:
  Impl(ServerOptions options, HandlerRegistry handlers)
      : options_(std::move(options)),
        handlers_(std::move(handlers)),
        metrics_(handlers_.payload_types()),
        nonces_(options_.validation.max_age + options_.validation.max_future,
                NonceStoreOptions{options_.limits.max_nonce_bytes,
                                  options_.limits.max_nonces}),
        dispatcher_(&options_.manifest, &handlers_, options_.validation,
                    !options_.reject_replayed_nonces ? nullptr
                    : options_.replay_store != nullptr
                        ? options_.replay_store.get()
                        : static_cast<ReplayStore*>(&nonces_),
                    [] { return absl::Now(); }),
        memory_(options_.limits.memory_quota_bytes),
        workers_(HandlerThreads(options_)),
        authenticator_(options_.auth),
        rate_limiter_(options_.rate_limit) {
    dispatcher_.set_blocking_executor([this](std::function<void()> task) {
      workers_.Submit(std::move(task));
    });
    dispatcher_.set_rate_limiter(&rate_limiter_);
    if (options_.idempotency_store != nullptr) {
      EnvelopeDispatcher::IdempotencyOptions idempotency;
      idempotency.window =
          options_.validation.max_age + options_.validation.max_future;
      idempotency.max_response_bytes =
          static_cast<size_t>(std::max(options_.max_message_bytes, 0));
      dispatcher_.set_idempotency_store(options_.idempotency_store.get(),
                                        idempotency);
    }
    dispatcher_.set_require_identity(authenticator_.enabled());
    dispatcher_.set_call_log(options_.call_log);
    // The shared-state counters, when the server has a store of its own
    // choosing.
    if (options_.replay_store != nullptr ||
        options_.idempotency_store != nullptr) {
      metrics_.SetStateSource([this] {
        ServerMetrics::StateCounts counts;
        counts.idempotency_hits = dispatcher_.idempotency_hits();
        counts.claim_renewals = dispatcher_.claim_renewals();
        counts.claims_lost = dispatcher_.claims_lost();
        if (options_.replay_store != nullptr) {
          StoreStats replay = options_.replay_store->stats();
          counts.replay_errors = replay.redis_errors;
          counts.replay_fallbacks = replay.fallbacks;
        }
        if (options_.idempotency_store != nullptr) {
          StoreStats idempotency = options_.idempotency_store->stats();
          counts.idempotency_errors = idempotency.redis_errors;
          counts.idempotency_fallbacks = idempotency.fallbacks;
        }
        return counts;
      });
    }
  }

  ~Impl() {
    if (server_ != nullptr) {
      Shutdown(absl::Seconds(5));
      server_->Wait();
    }
    // No HTTP request is handled after this, and the handlers still queued
    // run (their answers go nowhere) before the HTTP service goes away.
    metrics_.SetHttpConnectionSource(nullptr);
    metrics_.SetStateSource(nullptr);
    http_listener_.reset();
    workers_.Stop();
  }

  absl::Status Start() {
    if (options_.max_message_bytes <= 0) {
      return absl::InvalidArgumentError("max_message_bytes must be positive");
    }
    if (absl::Status s = ValidateServerTlsOptions(options_.tls); !s.ok()) {
      return s;
    }
    if (options_.auth.client_certificates &&
        options_.tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "auth.client_certificates needs tls.client_ca_file: only a "
          "verified client certificate names an agent");
    }
    if (options_.rate_limit.enabled) {
      for (const RateLimit& limit : options_.rate_limit.limits) {
        if (limit.count <= 0 || limit.period <= absl::ZeroDuration()) {
          return absl::InvalidArgumentError(
              "rate_limit: every limit needs a positive count and period");
        }
      }
    }
    const ServerLimits& limits = options_.limits;
    if (limits.max_json_values < 1 || limits.max_depth < 1 ||
        limits.max_envelopes_per_frame < 1 ||
        limits.batch_frames_in_flight < 1 ||
        limits.stream_stall_timeout <= absl::ZeroDuration() ||
        limits.max_concurrent_streams_per_connection < 1 ||
        limits.max_nonce_bytes < 1 || limits.max_nonces < 1) {
      return absl::InvalidArgumentError(
          "ServerLimits: counts, sizes and stream_stall_timeout must be "
          "positive");
    }
    // An empty endpoint (or one on port 0) is filled with the bound address.
    std::string endpoint = options_.manifest.endpoints().asap();
    bool fill_endpoint = endpoint.empty() || absl::EndsWith(endpoint, ":0");
    if (fill_endpoint) {
      options_.manifest.mutable_endpoints()->set_asap(options_.address);
    }
    if (absl::Status status = ValidateManifest(options_.manifest);
        !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("server manifest: ", status.message()));
    }
    ServiceCore core;
    core.manifest = &options_.manifest;
    core.dispatcher = &dispatcher_;
    core.memory = &memory_;
    core.workers = &workers_;
    core.metrics = &metrics_;
    core.authenticator = &authenticator_;
    core.max_message_bytes = static_cast<size_t>(options_.max_message_bytes);
    core.compression_threshold_bytes = options_.compression_threshold_bytes;
    core.manifest_max_age = options_.manifest_max_age;
    core.envelope_limits.max_json_values = limits.max_json_values;
    core.envelope_limits.max_depth = limits.max_depth;
    core.max_envelopes_per_frame = limits.max_envelopes_per_frame;
    core.batch_frames_in_flight = limits.batch_frames_in_flight;
    core.stream_stall_timeout = limits.stream_stall_timeout;
    service_ = std::make_unique<AsapGrpcService>(core);

    grpc::EnableDefaultHealthCheckService(options_.enable_health_service);
    if (options_.enable_reflection) {
      grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    }
    // Plaintext, or TLS 1.2+ (gRPC's minimum) with the server's certificate,
    // requiring a client certificate signed by client_ca_file when set.
    std::shared_ptr<grpc::ServerCredentials> credentials =
        grpc::InsecureServerCredentials();
    if (options_.tls.enabled()) {
      absl::StatusOr<std::unique_ptr<ReloadableTls>> tls =
          ReloadableTls::Create(options_.tls);
      if (!tls.ok()) return tls.status();
      grpc_tls_ = *std::move(tls);
      credentials = grpc_tls_->credentials();
    }
    grpc::ServerBuilder builder;
    if (!options_.enable_reflection || authenticator_.enabled()) {
      builder.SetOption(std::make_unique<WithoutReflection>());
    }
    builder.AddListeningPort(options_.address, credentials, &port_);
    // Without this, gRPC binds with SO_REUSEPORT and a second server on a busy
    // port "succeeds" and steals half the connections.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
    builder.SetMaxSendMessageSize(options_.max_message_bytes);
    // gRPC 1.51 inflates a gzip message whole before it applies the receive
    // limit; asap inflates it instead, with the limit
    // (server/grpc/request_bytes.h). deflate is refused (UNIMPLEMENTED from
    // gRPC), gzip is what gRPC clients send.
    builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               limits.max_concurrent_streams_per_connection);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                               Millis(limits.keepalive_time));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                               Millis(limits.keepalive_timeout));
    builder.AddChannelArgument(
        GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
        Millis(limits.min_client_ping_interval));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               Millis(limits.max_connection_idle));
    if (limits.transport_memory_bytes > 0) {
      transport_quota_ = std::make_unique<grpc::ResourceQuota>("asap-server");
      transport_quota_->Resize(limits.transport_memory_bytes);
      builder.SetResourceQuota(*transport_quota_);
    }
    builder.RegisterService(service_->service());
    if (!options_.interceptors.empty()) {
      builder.experimental().SetInterceptorCreators(
          std::move(options_.interceptors));
    }
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return absl::UnavailableError(
          absl::StrCat("cannot listen on '", options_.address,
                       "' (address in use or not valid)"));
    }
    size_t colon = options_.address.rfind(':');
    host_ = options_.address.substr(0, colon);
    if (fill_endpoint) {
      options_.manifest.mutable_endpoints()->set_asap(address());
    }
    if (!options_.http_address.empty()) {
      if (absl::Status status = StartHttp(core); !status.ok()) {
        server_->Shutdown();
        server_->Wait();
        server_.reset();
        return status;
      }
    }
    if (options_.enable_health_service) {
      server_->GetHealthCheckService()->SetServingStatus(true);
    }
    return absl::OkStatus();
  }

  // The HTTP binding on the same core; the manifest is final by now.
  absl::Status StartHttp(const ServiceCore& core) {
    JsonRpcServiceOptions http = options_.http;
    if (options_.manifest_max_age > absl::ZeroDuration()) {
      http.manifest_max_age = options_.manifest_max_age;
    }
    http_service_ = std::make_unique<JsonRpcService>(core, std::move(http));
    HttpListenerOptions transport = options_.http_transport;
    transport.address = options_.http_address;
    transport.max_body_bytes = static_cast<size_t>(options_.max_message_bytes);
    transport.tls = options_.tls;
    absl::StatusOr<std::unique_ptr<HttpListener>> listener =
        HttpListener::Start(std::move(transport), http_service_.get());
    if (!listener.ok()) {
      http_service_.reset();
      return listener.status();
    }
    http_listener_ = *std::move(listener);
    metrics_.SetHttpConnectionSource([listener = http_listener_.get()] {
      HttpListener::Stats stats = listener->stats();
      return std::make_pair(stats.connections_accepted, stats.connections_open);
    });
    return absl::OkStatus();
  }

  absl::Status ReloadTls() {
    if (grpc_tls_ == nullptr) {
      return absl::FailedPreconditionError("the server does not serve TLS");
    }
    // The HTTP listener builds its whole TLS context from the files before
    // it switches, so it goes first: when it refuses them, neither listener
    // changes.
    if (http_listener_ != nullptr) {
      if (absl::Status s = http_listener_->ReloadTls(); !s.ok()) return s;
    }
    return grpc_tls_->Reload();
  }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat(host_, ":", port_); }
  int http_port() const {
    return http_listener_ == nullptr ? 0 : http_listener_->port();
  }
  std::string http_address() const {
    return http_listener_ == nullptr ? "" : http_listener_->address();
  }
  const MemoryBudget& memory() const { return memory_; }
  const ServerMetrics& metrics() const { return metrics_; }

  void Shutdown(absl::Duration grace) {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      shut_down_ = true;
    }
    if (options_.enable_health_service) {
      server_->GetHealthCheckService()->SetServingStatus(false);
    }
    if (http_service_ != nullptr) http_service_->set_serving(false);
    // Batch streams end as soon as the frames they read are answered, and
    // their clients resume elsewhere, rather than being cut at `grace`.
    service_->DrainStreams();
    // Both bindings drain at once, each within `grace`.
    std::thread http_shutdown;
    if (http_listener_ != nullptr) {
      http_shutdown = std::thread([listener = http_listener_.get(), grace] {
        listener->Shutdown(grace);
      });
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    if (http_shutdown.joinable()) http_shutdown.join();
  }

  void Wait() { server_->Wait(); }

 private:
  ServerOptions options_;
  HandlerRegistry handlers_;
  // Shared by both bindings (the HTTP binding also serves it as text).
  ServerMetrics metrics_;
  NonceStore nonces_;
  EnvelopeDispatcher dispatcher_;
  MemoryBudget memory_;
  // Destroyed after the gRPC server (declared before it): handlers still
  // queued when the server stops run before the threads are joined.
  WorkerPool workers_;
  const Authenticator authenticator_;
  RateLimiter rate_limiter_;
  std::unique_ptr<AsapGrpcService> service_;
  std::unique_ptr<ReloadableTls> grpc_tls_;
  std::unique_ptr<grpc::ResourceQuota> transport_quota_;
  std::unique_ptr<grpc::Server> server_;
  // The HTTP binding: the listener goes first (declared last), then the
  // application it calls.
  std::unique_ptr<JsonRpcService> http_service_;
  std::unique_ptr<HttpListener> http_listener_;
  int port_ = 0;
  std::string host_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<AsapServer>> AsapServer::Start(
    ServerOptions options, HandlerRegistry handlers) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handlers));
  if (absl::Status status = impl->Start(); !status.ok()) return status;
  return std::unique_ptr<AsapServer>(new AsapServer(std::move(impl)));
}

AsapServer::AsapServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsapServer::~AsapServer() = default;

int AsapServer::port() const { return impl_->port(); }
std::string AsapServer::address() const { return impl_->address(); }
int AsapServer::http_port() const { return impl_->http_port(); }
std::string AsapServer::http_address() const { return impl_->http_address(); }
void AsapServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
void AsapServer::Wait() { impl_->Wait(); }
absl::Status AsapServer::ReloadTls() { return impl_->ReloadTls(); }

std::string AsapServer::MetricsText() const {
  return impl_->metrics().RenderPrometheus();
}

AsapServer::Stats AsapServer::stats() const {
  const MemoryBudget& memory = impl_->memory();
  Stats stats;
  stats.memory_in_use = memory.in_use();
  stats.memory_peak = memory.peak();
  stats.memory_refused = memory.refused();
  return stats;
}

}  // namespace asap
