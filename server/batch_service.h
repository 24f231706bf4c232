// The server side of the SendBatch stream.
#ifndef ASAP_SERVER_BATCH_SERVICE_H_
#define ASAP_SERVER_BATCH_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include "asap/v1/service.grpc.pb.h"
#include "server/dispatcher.h"

namespace asap {

// Serves one SendBatch stream: every envelope read is dispatched exactly like
// a unary Send and gets exactly one BatchResult naming its position.
grpc::Status ServeBatch(
    const EnvelopeDispatcher& dispatcher, grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::BatchResultFrame, v1::BatchFrame>* stream);

}  // namespace asap

#endif  // ASAP_SERVER_BATCH_SERVICE_H_
