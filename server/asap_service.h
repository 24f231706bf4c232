// The gRPC binding of an asap server: asap.v1.AsapService on gRPC's callback
// API with raw (serialized) messages, so that no thread ever waits on a peer
// and every byte is bounded before it is parsed.
#ifndef ASAP_SERVER_ASAP_SERVICE_H_
#define ASAP_SERVER_ASAP_SERVICE_H_

#include <grpcpp/impl/codegen/service_type.h>
#include <grpcpp/support/server_callback.h>

#include <cstddef>
#include <memory>

#include "absl/time/time.h"
#include "asap/v1/manifest.pb.h"
#include "asap/wire_limits.h"
#include "server/dispatcher.h"
#include "server/handler_context.h"
#include "server/memory_budget.h"
#include "server/worker_pool.h"

namespace asap {

// What the service needs from the server; nothing is owned, all of it
// outlives the service.
struct ServiceCore {
  const v1::Manifest* manifest = nullptr;
  const EnvelopeDispatcher* dispatcher = nullptr;
  MemoryBudget* memory = nullptr;
  WorkerPool* workers = nullptr;
  size_t max_message_bytes = 10 * 1024 * 1024;
  size_t compression_threshold_bytes = 1024;
  absl::Duration manifest_max_age = absl::ZeroDuration();
  EnvelopeLimits envelope_limits;
  int64_t max_envelopes_per_frame = 1000;
  int batch_frames_in_flight = 8;
  absl::Duration stream_stall_timeout = absl::Seconds(30);
};

// The handler context of a gRPC call: deadline, cancellation, peer, metadata.
// `out` must not be used after the call has finished.
void FillHandlerContext(grpc::CallbackServerContext* context,
                        HandlerContext* out);

class AsapGrpcService {
 public:
  explicit AsapGrpcService(ServiceCore core);
  ~AsapGrpcService();
  AsapGrpcService(const AsapGrpcService&) = delete;
  AsapGrpcService& operator=(const AsapGrpcService&) = delete;

  // The service to register with a grpc::ServerBuilder.
  grpc::Service* service();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asap

#endif  // ASAP_SERVER_ASAP_SERVICE_H_
