#include "server/asap_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/manifest.h"
#include "asap/v1/service.grpc.pb.h"
#include "server/batch_service.h"
#include "server/compressed_send.h"
#include "server/dispatcher.h"
#include "server/nonce_store.h"
#include "server/worker_pool.h"

namespace asap {
namespace {

class AsapServiceImpl final : public v1::AsapService::Service {
 public:
  AsapServiceImpl(const v1::Manifest* manifest, absl::Duration max_age,
                  const EnvelopeDispatcher* dispatcher, WorkerPool* workers,
                  CompressedSendLimits limits)
      : limits_(limits),
        manifest_(manifest),
        max_age_seconds_(absl::ToInt64Seconds(max_age)),
        dispatcher_(dispatcher),
        workers_(workers) {}

  grpc::Status Send(grpc::ServerContext* context, const v1::Envelope* request,
                    v1::Envelope* response) override {
    absl::StatusOr<v1::Envelope> result = dispatcher_->Dispatch(*request);
    if (!result.ok()) return ToGrpcStatus(result.status(), context);
    *response = *std::move(result);
    // Plain Send answers large responses with gRPC's own compression. A
    // level (not an algorithm) lets gRPC pick among what the client announced
    // in grpc-accept-encoding (gzip for C++, Python and Go clients by
    // default), and identity for a client that announced none.
    if (response->ByteSizeLong() >= limits_.response_threshold_bytes) {
      context->set_compression_level(GRPC_COMPRESS_LEVEL_HIGH);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetManifest(grpc::ServerContext* context,
                           const v1::GetManifestRequest* request,
                           v1::Manifest* response) override {
    if (max_age_seconds_ > 0) {
      context->AddInitialMetadata("asap-manifest-max-age",
                                  std::to_string(max_age_seconds_));
    }
    *response = *manifest_;
    return grpc::Status::OK;
  }

  grpc::Status SendCompressed(grpc::ServerContext* context,
                              const v1::CompressedEnvelope* request,
                              v1::CompressedEnvelope* response) override {
    absl::StatusOr<v1::CompressedEnvelope> result =
        HandleCompressedSend(*dispatcher_, *request, limits_);
    if (!result.ok()) return ToGrpcStatus(result.status(), context);
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  grpc::Status SendBatch(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::BatchResultFrame, v1::BatchFrame>* stream)
      override {
    return ServeBatch(*dispatcher_, workers_, context, stream);
  }

 private:
  const CompressedSendLimits limits_;
  const v1::Manifest* manifest_;
  const int64_t max_age_seconds_;
  const EnvelopeDispatcher* dispatcher_;
  WorkerPool* workers_;
};

}  // namespace

class AsapServer::Impl {
 public:
  Impl(ServerOptions options, HandlerRegistry handlers)
      : options_(std::move(options)),
        handlers_(std::move(handlers)),
        nonces_(options_.validation.max_age + options_.validation.max_future),
        dispatcher_(&options_.manifest, &handlers_, options_.validation,
                    options_.reject_replayed_nonces ? &nonces_ : nullptr,
                    [] { return absl::Now(); }),
        workers_(options_.batch_workers > 0
                     ? options_.batch_workers
                     : std::max(2u, std::thread::hardware_concurrency())),
        service_(&options_.manifest, options_.manifest_max_age, &dispatcher_,
                 &workers_,
                 CompressedSendLimits{
                     static_cast<size_t>(options_.max_message_bytes),
                     options_.compression_threshold_bytes}) {}

  absl::Status Start() {
    if (options_.max_message_bytes <= 0) {
      return absl::InvalidArgumentError("max_message_bytes must be positive");
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
    grpc::EnableDefaultHealthCheckService(options_.enable_health_service);
    if (options_.enable_reflection) {
      grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options_.address,
                             grpc::InsecureServerCredentials(), &port_);
    // Without this, gRPC binds with SO_REUSEPORT and a second server on a busy
    // port "succeeds" and steals half the connections.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
    builder.SetMaxSendMessageSize(options_.max_message_bytes);
    builder.RegisterService(&service_);
    if (!options_.interceptors.empty()) {
      builder.experimental().SetInterceptorCreators(
          std::move(options_.interceptors));
    }
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on '", options_.address,
                       "' (address in use or not valid)"));
    }
    size_t colon = options_.address.rfind(':');
    host_ = options_.address.substr(0, colon);
    if (fill_endpoint) {
      options_.manifest.mutable_endpoints()->set_asap(address());
    }
    if (options_.enable_health_service) {
      server_->GetHealthCheckService()->SetServingStatus(true);
    }
    return absl::OkStatus();
  }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat(host_, ":", port_); }

  void Shutdown(absl::Duration grace) {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return;
      shut_down_ = true;
    }
    if (options_.enable_health_service) {
      server_->GetHealthCheckService()->SetServingStatus(false);
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  }

  void Wait() { server_->Wait(); }

 private:
  ServerOptions options_;
  HandlerRegistry handlers_;
  NonceStore nonces_;
  EnvelopeDispatcher dispatcher_;
  WorkerPool workers_;
  AsapServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
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

AsapServer::~AsapServer() {
  impl_->Shutdown(absl::Seconds(5));
  impl_->Wait();
}

int AsapServer::port() const { return impl_->port(); }
std::string AsapServer::address() const { return impl_->address(); }
void AsapServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
void AsapServer::Wait() { impl_->Wait(); }

}  // namespace asap
