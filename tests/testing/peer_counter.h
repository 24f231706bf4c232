// PeerCounter: counts the distinct client connections (peer addresses) and the
// calls a server sees. Install it as a server interceptor:
//
//   auto peers = std::make_shared<asap::PeerCounter>();
//   asap::ServerOptions options;
//   options.interceptors.push_back(peers->MakeInterceptorFactory());
//   ...
//   peers->distinct_peers();  // connections that carried at least one call
//
// Test and benchmark instrumentation, not part of the server library: the pool
// tests and the benchmarks use it to count connections at the server,
// where they are real, rather than trusting the client's own bookkeeping.
#ifndef ASAP_TESTS_TESTING_PEER_COUNTER_H_
#define ASAP_TESTS_TESTING_PEER_COUNTER_H_

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace asap {

class PeerCounter : public std::enable_shared_from_this<PeerCounter> {
 public:
  // A factory whose interceptors report to this counter (kept alive by them).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  MakeInterceptorFactory();

  // Distinct peers ("ipv4:127.0.0.1:54321") seen since the last Reset().
  size_t distinct_peers() const;
  // Calls seen since the last Reset().
  uint64_t calls() const;
  void Reset();

  // Records one call from `peer` (called by the interceptor).
  void Record(const std::string& peer);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> peers_ ABSL_GUARDED_BY(mu_);
  uint64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace asap

#endif  // ASAP_TESTS_TESTING_PEER_COUNTER_H_
