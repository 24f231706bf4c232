#include "server/batch_service.h"

#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "google/protobuf/arena.h"

namespace asap {
namespace {

// State shared by a stream's reader and the frames running on workers.
struct StreamState {
  absl::Mutex mu;
  int frames_in_flight ABSL_GUARDED_BY(mu) = 0;
  bool write_failed ABSL_GUARDED_BY(mu) = false;
  // Serializes writes: gRPC allows one outstanding write per stream.
  absl::Mutex write_mu;
};

v1::BatchResultFrame RunFrame(const EnvelopeDispatcher& dispatcher,
                              const v1::BatchFrame& frame,
                              uint64_t first_index) {
  v1::BatchResultFrame results;
  results.mutable_results()->Reserve(frame.envelopes_size());
  uint64_t index = first_index;
  for (const v1::Envelope& envelope : frame.envelopes()) {
    v1::BatchResult* result = results.add_results();
    result->set_index(index++);
    absl::StatusOr<v1::Envelope> response = dispatcher.Dispatch(envelope);
    if (response.ok()) {
      *result->mutable_response() = *std::move(response);
    } else {
      SetBatchError(response.status(), result->mutable_error());
    }
  }
  return results;
}

}  // namespace

void SetBatchError(const absl::Status& status, v1::BatchError* error) {
  // The same code and message a unary Send would carry.
  grpc::Status wire = ToGrpcStatus(status);
  error->set_asap_code(std::string(ErrorCodeName(*ErrorCodeOf(status))));
  error->set_grpc_code(static_cast<int>(wire.error_code()));
  error->set_message(wire.error_message());
}

grpc::Status ServeBatch(
    const EnvelopeDispatcher& dispatcher, WorkerPool* workers,
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::BatchResultFrame, v1::BatchFrame>* stream) {
  auto state = std::make_shared<StreamState>();
  uint64_t next_index = 0;
  while (true) {
    {
      absl::MutexLock lock(&state->mu);
      auto has_room = [&state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
        return state->frames_in_flight < kMaxBatchFramesInFlight;
      };
      state->mu.Await(absl::Condition(&has_room));
      if (state->write_failed) break;
    }
    // The frame and everything in it live on an arena: parsing allocates
    // from one block and freeing the frame is one release, which matters for
    // Struct-heavy envelopes (malloc was the top cost in perf).
    auto arena = std::make_shared<google::protobuf::Arena>();
    v1::BatchFrame* frame =
        google::protobuf::Arena::CreateMessage<v1::BatchFrame>(arena.get());
    if (!stream->Read(frame)) break;
    uint64_t first_index = next_index;
    next_index += frame->envelopes_size();
    {
      absl::MutexLock lock(&state->mu);
      ++state->frames_in_flight;
    }
    workers->Submit([&dispatcher, stream, state, arena, frame, first_index] {
      v1::BatchResultFrame results = RunFrame(dispatcher, *frame, first_index);
      bool written;
      {
        absl::MutexLock lock(&state->write_mu);
        written = stream->Write(results);
      }
      absl::MutexLock lock(&state->mu);
      if (!written) state->write_failed = true;
      --state->frames_in_flight;
    });
  }
  // Every frame read must finish (and be written) before the call returns:
  // the stream and the dispatcher must outlive the workers' use of them.
  absl::MutexLock lock(&state->mu);
  auto idle = [&state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
    return state->frames_in_flight == 0;
  };
  state->mu.Await(absl::Condition(&idle));
  if (state->write_failed) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "asap:transport/cancelled: the client stopped reading "
                        "batch results");
  }
  return grpc::Status::OK;
}

}  // namespace asap
