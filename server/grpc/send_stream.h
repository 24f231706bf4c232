// The server side of SendStream: one request envelope, then the handler's
// intermediate envelopes and its final response, on gRPC's callback API.
//
// The request is bounded and charged to the memory budget exactly like a
// unary Send. Envelopes the handler emits are queued and written one at a
// time, so no thread waits for the client to read. The queue holds at most
// kMaxQueuedEnvelopes envelopes or kMaxQueuedBytes bytes (each also charged
// to the memory budget); past that, emit returns false and the call ends
// with asap:transport/resource_exhausted once the handler returns. A call
// whose write makes no progress for `stream_stall_timeout` is cancelled.
//
// The call ends OK after the final envelope (payload.final = true) has been
// written, or with the error Send would have returned, after the
// intermediates queued before it.
#ifndef ASAP_SERVER_GRPC_SEND_STREAM_H_
#define ASAP_SERVER_GRPC_SEND_STREAM_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <cstddef>

#include "server/grpc/stall_watchdog.h"
#include "server/service_core.h"

namespace asap {

// Intermediate envelopes a SendStream call may have queued (including the
// one being written) before emit refuses more.
inline constexpr size_t kMaxQueuedEnvelopes = 64;
inline constexpr size_t kMaxQueuedBytes = 4u << 20;

// Starts serving one SendStream call; the reactor deletes itself when done.
// `request` is read before this returns. `identity` is the caller's
// authenticated agent (empty: none).
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSendStream(
    const ServiceCore* core, StallWatchdog* watchdog,
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    std::string identity);

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_SEND_STREAM_H_
