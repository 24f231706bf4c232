// The server side of the SendBatch stream, on gRPC's callback API.
//
// Each BatchFrame read is checked on its bytes (envelope count, JSON values,
// depth), charged to the server's memory budget, and handed to the worker
// pool, where its envelopes are dispatched exactly like unary Sends. Results
// go back as BatchResultFrames (each under the message limit, with the
// envelopes' positions) through the stream's own write queue: no thread ever
// waits for the peer to read. A stream has at most `batch_frames_in_flight`
// frames read but not yet written back; past that it stops reading, so
// HTTP/2 flow control holds that client back and nobody else. A stream with
// a write pending and no progress for `stream_stall_timeout` is cancelled.
//
// Every envelope that was read gets exactly one result written, unless the
// client is gone. A frame that breaks a limit ends the stream with that
// error after the frames before it have been answered.
#ifndef ASAP_SERVER_GRPC_BATCH_STREAM_H_
#define ASAP_SERVER_GRPC_BATCH_STREAM_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <memory>

#include "absl/status/status.h"
#include "asap/v1/service.pb.h"
#include "server/grpc/asap_service.h"
#include "server/grpc/stall_watchdog.h"

namespace asap {

// Starts serving one SendBatch call; the reactor deletes itself when done.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StartBatchStream(
    const ServiceCore* core, StallWatchdog* watchdog,
    grpc::CallbackServerContext* context, std::string identity);

// The BatchError form of a failed dispatch: the code and message a unary
// Send would carry.
void SetBatchError(const absl::Status& status, v1::BatchError* error);

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_BATCH_STREAM_H_
