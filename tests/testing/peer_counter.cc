#include "tests/testing/peer_counter.h"

#include <grpcpp/server_context.h>

namespace asap {
namespace {

class PeerInterceptor : public grpc::experimental::Interceptor {
 public:
  PeerInterceptor(grpc::experimental::ServerRpcInfo* info,
                  std::shared_ptr<PeerCounter> counter)
      : info_(info), counter_(std::move(counter)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                POST_RECV_INITIAL_METADATA)) {
      counter_->Record(info_->server_context()->peer());
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  std::shared_ptr<PeerCounter> counter_;
};

class PeerInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit PeerInterceptorFactory(std::shared_ptr<PeerCounter> counter)
      : counter_(std::move(counter)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new PeerInterceptor(info, counter_);
  }

 private:
  std::shared_ptr<PeerCounter> counter_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
PeerCounter::MakeInterceptorFactory() {
  return std::make_unique<PeerInterceptorFactory>(shared_from_this());
}

size_t PeerCounter::distinct_peers() const {
  absl::MutexLock lock(&mu_);
  return peers_.size();
}

uint64_t PeerCounter::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void PeerCounter::Reset() {
  absl::MutexLock lock(&mu_);
  peers_.clear();
  calls_ = 0;
}

void PeerCounter::Record(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  peers_.insert(peer);
  ++calls_;
}

}  // namespace asap
