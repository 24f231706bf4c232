#include "client/manifest_cache_interceptor.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"

namespace asap {
namespace {

using grpc::experimental::ClientRpcInfo;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

constexpr absl::string_view kGetManifestMethod =
    "/asap.v1.AsapService/GetManifest";
constexpr absl::string_view kSendMethod = "/asap.v1.AsapService/Send";
constexpr absl::string_view kSendCompressedMethod =
    "/asap.v1.AsapService/SendCompressed";

// The server's TTL hint, if it sent a valid one.
std::optional<absl::Duration> MaxAgeHint(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find(kManifestMaxAgeMetadataKey);
  if (it == metadata.end()) return std::nullopt;
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &seconds) ||
      seconds < 0) {
    return std::nullopt;
  }
  return absl::Seconds(seconds);
}

// Hijacks GetManifest: answers it from the cache or one shared fetch.
class GetManifestInterceptor : public grpc::experimental::Interceptor {
 public:
  GetManifestInterceptor(ClientRpcInfo* info,
                         std::shared_ptr<ManifestCache> cache,
                         const std::string* key)
      : info_(info), cache_(std::move(cache)), key_(key) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    bool hijack = false;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      hijack = true;
      std::shared_ptr<grpc::ChannelInterface> channel =
          methods->GetInterceptedChannel();
      std::chrono::system_clock::time_point deadline =
          info_->client_context()->deadline();
      result_ = cache_->GetOrFetch(
          *key_, [&]() -> absl::StatusOr<ManifestCache::FetchResult> {
            // Past this interceptor: a real network call.
            grpc::ClientContext context;
            context.set_deadline(deadline);
            ManifestCache::FetchResult fetched;
            grpc::Status status =
                v1::AsapService::NewStub(channel)->GetManifest(
                    &context, v1::GetManifestRequest(), &fetched.manifest);
            if (!status.ok()) return FromGrpcStatus(status, &context);
            fetched.ttl = MaxAgeHint(context);
            return fetched;
          });
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_RECV_MESSAGE) &&
        result_.ok()) {
      static_cast<v1::Manifest*>(methods->GetRecvMessage())
          ->CopyFrom(**result_);
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_RECV_STATUS)) {
      *methods->GetRecvStatus() = ToGrpcStatus(result_.status());
    }
    if (hijack) {
      methods->Hijack();
    } else {
      methods->Proceed();
    }
  }

 private:
  ClientRpcInfo* info_;
  std::shared_ptr<ManifestCache> cache_;
  const std::string* key_;
  absl::StatusOr<std::shared_ptr<const v1::Manifest>> result_ =
      absl::UnknownError("GetManifest was not answered");
};

// Watches Send: a status that shows the manifest is stale invalidates it.
class StaleManifestInterceptor : public grpc::experimental::Interceptor {
 public:
  StaleManifestInterceptor(std::shared_ptr<ManifestCache> cache,
                           const std::string* key)
      : cache_(std::move(cache)), key_(key) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      grpc::StatusCode code = methods->GetRecvStatus()->error_code();
      if (code == grpc::StatusCode::UNIMPLEMENTED ||
          code == grpc::StatusCode::UNAVAILABLE) {
        cache_->Invalidate(*key_);
      }
    }
    methods->Proceed();
  }

 private:
  std::shared_ptr<ManifestCache> cache_;
  const std::string* key_;
};

class ManifestCacheInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  ManifestCacheInterceptorFactory(std::shared_ptr<ManifestCache> cache,
                                  std::string key)
      : cache_(std::move(cache)), key_(std::move(key)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      ClientRpcInfo* info) override {
    absl::string_view method = info->method();
    if (method == kGetManifestMethod) {
      return new GetManifestInterceptor(info, cache_, &key_);
    }
    if (method == kSendMethod || method == kSendCompressedMethod) {
      return new StaleManifestInterceptor(cache_, &key_);
    }
    return nullptr;  // other methods are not intercepted
  }

 private:
  std::shared_ptr<ManifestCache> cache_;
  const std::string key_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeManifestCacheInterceptorFactory(std::shared_ptr<ManifestCache> cache,
                                    std::string key) {
  return std::make_unique<ManifestCacheInterceptorFactory>(std::move(cache),
                                                           std::move(key));
}

}  // namespace asap
