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
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/v1/service.pb.h"
#include "server/grpc/asap_service.h"

namespace asap {

class BatchStream;

// Cancels streams that have made no write progress for too long.
class StallWatchdog {
 public:
  explicit StallWatchdog(absl::Duration timeout);
  ~StallWatchdog();  // stops the thread
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  void Add(BatchStream* stream);
  void Remove(BatchStream* stream);

 private:
  void Run();

  const absl::Duration timeout_;
  absl::Mutex mu_;
  absl::flat_hash_set<BatchStream*> streams_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Starts serving one SendBatch call; the reactor deletes itself when done.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StartBatchStream(
    const ServiceCore* core, StallWatchdog* watchdog,
    grpc::CallbackServerContext* context);

// The BatchError form of a failed dispatch: the code and message a unary
// Send would carry.
void SetBatchError(const absl::Status& status, v1::BatchError* error);

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_BATCH_STREAM_H_
