// Conversion between asap's absl::Status errors and gRPC statuses: the one
// place where an ASAP error code is put on, or read off, the wire.
//
// clang-format off
// Server side:
//   return asap::ToGrpcStatus(status, context);  // + `asap-error-code` trailer
// Client side:
//   grpc::Status s = stub->Send(&context, request, &response);
//   absl::Status status = asap::FromGrpcStatus(s, &context);
// clang-format on
#ifndef ASAP_GRPC_STATUS_H_
#define ASAP_GRPC_STATUS_H_

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace asap {

// A gRPC status with the same code and message. When `context` is given and the
// status has an ASAP code, the code is also added as trailing metadata
// `asap-error-code`.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context = nullptr);

// An absl::Status with the same code and message, carrying the ASAP code that
// the trailing metadata of `context` or the message names (see ErrorCodeOf).
// Errors that come from gRPC itself (connection refused, deadline) keep their
// code and get an ASAP prefix: "asap:transport/unavailable: failed to connect".
absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context = nullptr);

}  // namespace asap

#endif  // ASAP_GRPC_STATUS_H_
