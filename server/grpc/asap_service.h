// The gRPC binding of an asap server: asap.v1.AsapService on gRPC's callback
// API with raw (serialized) messages, so that no thread ever waits on a peer
// and every byte is bounded before it is parsed.
#ifndef ASAP_SERVER_GRPC_ASAP_SERVICE_H_
#define ASAP_SERVER_GRPC_ASAP_SERVICE_H_

#include <grpcpp/impl/codegen/service_type.h>
#include <grpcpp/support/server_callback.h>

#include <cstddef>
#include <memory>

#include "server/dispatcher.h"
#include "server/handler_context.h"
#include "server/service_core.h"

namespace asap {

// The handler context of a gRPC call: deadline, cancellation, peer,
// metadata, and the caller's authenticated `identity` (empty: none). `out`
// must not be used after the call has finished.
void FillHandlerContext(grpc::CallbackServerContext* context,
                        std::string identity, HandlerContext* out);

// Asks core.authenticator who is calling: the `authorization` metadata and,
// on a TLS connection that verified a client certificate, its SANs. The
// empty identity when authentication is off. A refusal is
// UNAUTHENTICATED; the caller answers it with ToGrpcStatus after
// AddAuthChallenge.
absl::StatusOr<std::string> AuthenticateCall(
    const ServiceCore& core, const grpc::CallbackServerContext& context);
// Adds `www-authenticate: Bearer ...` to a refused call's trailers.
void AddAuthChallenge(grpc::CallbackServerContext* context);

class AsapGrpcService {
 public:
  explicit AsapGrpcService(ServiceCore core);
  ~AsapGrpcService();
  AsapGrpcService(const AsapGrpcService&) = delete;
  AsapGrpcService& operator=(const AsapGrpcService&) = delete;

  // The service to register with a grpc::ServerBuilder.
  grpc::Service* service();

  // For a graceful shutdown, before the server stops: every SendBatch
  // stream stops reading, answers the frames it has read and ends with
  // UNAVAILABLE, so that the client resends the envelopes that have no
  // result to another replica (AsapClient::SendBatch does).
  void DrainStreams();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_ASAP_SERVICE_H_
