// The server side of the SendBatch stream.
//
// The stream's own thread reads BatchFrames and hands each to the worker pool,
// where its envelopes are dispatched exactly like unary Sends (validation,
// replay check, handler). Frames run concurrently; each finished frame is
// written back at once as a BatchResultFrame whose results carry the
// envelopes' positions, so the client can match them whatever the order.
// At most `max_frames_in_flight` frames of one stream are being processed, so
// a fast client cannot make the server buffer a whole batch (HTTP/2 flow
// control then holds the client back).
//
// Every envelope that was read gets exactly one result written, unless the
// client is gone. If the server shuts down mid-batch, frames already read are
// finished; the client marks whatever it did not get an answer for with the
// stream's final status.
#ifndef ASAP_SERVER_BATCH_SERVICE_H_
#define ASAP_SERVER_BATCH_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include "asap/v1/service.grpc.pb.h"
#include "server/dispatcher.h"
#include "server/worker_pool.h"

namespace asap {

// Frames of one stream processed at once.
inline constexpr int kMaxBatchFramesInFlight = 8;

// Serves one SendBatch stream.
grpc::Status ServeBatch(
    const EnvelopeDispatcher& dispatcher, WorkerPool* workers,
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::BatchResultFrame, v1::BatchFrame>* stream);

// The BatchError form of a failed dispatch.
void SetBatchError(const absl::Status& status, v1::BatchError* error);

}  // namespace asap

#endif  // ASAP_SERVER_BATCH_SERVICE_H_
