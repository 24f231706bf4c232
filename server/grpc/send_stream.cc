#include "server/grpc/send_stream.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <deque>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/envelope.pb.h"
#include "asap/wire_limits.h"
#include "google/protobuf/arena.h"
#include "server/grpc/asap_service.h"
#include "server/grpc/request_bytes.h"
#include "server/memory_budget.h"

namespace asap {
namespace {

class SendStream : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                   public StallWatchdog::Stream {
 public:
  SendStream(const ServiceCore* core, StallWatchdog* watchdog,
             grpc::CallbackServerContext* context, std::string identity)
      : core_(core),
        watchdog_(watchdog),
        context_(context),
        handler_context_(core->manifest) {
    FillHandlerContext(context, std::move(identity), &handler_context_);
    watchdog_->Add(this);
  }

  // Admits the request and hands it to the dispatcher, or ends the call.
  void Start(const grpc::ByteBuffer& request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void CancelIfStalled(absl::Time now, absl::Duration timeout) override;

 private:
  struct Outgoing {
    grpc::ByteBuffer buffer;
    size_t bytes = 0;
    MemoryBudget::Reservation memory;
  };

  // Bounds, checks and parses the request into envelope_.
  absl::Status Admit(const grpc::ByteBuffer& request);
  // The dispatcher's emit: queues one completed intermediate envelope.
  bool Emit(v1::Envelope intermediate);
  // The dispatcher's done: queues the final envelope or records the error.
  void Done(absl::StatusOr<v1::Envelope> result);
  // The envelope serialized and charged to the memory budget.
  absl::StatusOr<Outgoing> Serialize(const v1::Envelope& envelope);
  // Queues `outgoing`; the buffer to start writing, if no write is pending.
  grpc::ByteBuffer* EnqueueLocked(Outgoing outgoing)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True when nothing more will be written: the call can end.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status FinalStatusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call now: with `error` when the handler never ran.
  void FinishEarly(const absl::Status& error);

  const ServiceCore* const core_;
  StallWatchdog* const watchdog_;
  grpc::CallbackServerContext* const context_;
  HandlerContext handler_context_;
  google::protobuf::Arena arena_;
  v1::Envelope* envelope_ = nullptr;
  MemoryBudget::Reservation request_memory_;

  absl::Mutex mu_;
  // The envelope being written is the front.
  std::deque<Outgoing> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_) = absl::Now();
  bool handler_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Why the call fails: the handler's error, or a bound the stream passed.
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

absl::Status SendStream::Admit(const grpc::ByteBuffer& request) {
  const size_t limit = core_->max_message_bytes;
  // The wire bytes and their copy, plus room to inflate a gRPC-compressed
  // message.
  size_t needed =
      2 * WireSize(request) + (IsGrpcCompressed(request) ? limit : 0);
  absl::StatusOr<MemoryBudget::Reservation> wire_memory =
      core_->memory->Reserve(needed);
  if (!wire_memory.ok()) return wire_memory.status();
  absl::StatusOr<std::string> bytes = ReadRequestBytes(request, limit);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<WireCounts> counts =
      ScanEnvelopeBytes(*bytes, core_->envelope_limits);
  if (!counts.ok()) return counts.status();
  absl::StatusOr<MemoryBudget::Reservation> parsed_memory =
      core_->memory->Reserve(EstimateParsedBytes(bytes->size(), *counts));
  if (!parsed_memory.ok()) return parsed_memory.status();
  request_memory_ = *std::move(parsed_memory);
  envelope_ = google::protobuf::Arena::CreateMessage<v1::Envelope>(&arena_);
  if (!envelope_->ParseFromString(*bytes)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "the message is not a serialized asap.v1.Envelope");
  }
  return absl::OkStatus();
}

void SendStream::Start(const grpc::ByteBuffer& request) {
  if (absl::Status status = Admit(request); !status.ok()) {
    FinishEarly(status);
    return;
  }
  core_->dispatcher->DispatchStream(
      envelope_, &handler_context_, /*may_block=*/false,
      [this](v1::Envelope intermediate) {
        return Emit(std::move(intermediate));
      },
      [this](absl::StatusOr<v1::Envelope> result) { Done(std::move(result)); });
}

void SendStream::FinishEarly(const absl::Status& error) {
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    handler_done_ = true;
    error_ = error;
    ShouldFinishLocked();
    status = FinalStatusLocked();
  }
  Finish(status);
}

absl::StatusOr<SendStream::Outgoing> SendStream::Serialize(
    const v1::Envelope& envelope) {
  Outgoing outgoing;
  outgoing.bytes = envelope.ByteSizeLong();
  if (outgoing.bytes > core_->max_message_bytes) {
    return AsapError(ErrorCode::kPayloadTooLarge,
                     absl::StrCat("the handler's envelope of ", outgoing.bytes,
                                  " bytes exceeds the message limit of ",
                                  core_->max_message_bytes));
  }
  absl::StatusOr<MemoryBudget::Reservation> memory =
      core_->memory->Reserve(outgoing.bytes);
  if (!memory.ok()) return memory.status();
  outgoing.memory = *std::move(memory);
  bool own_buffer;
  grpc::SerializationTraits<v1::Envelope>::Serialize(envelope, &outgoing.buffer,
                                                     &own_buffer);
  return outgoing;
}

grpc::ByteBuffer* SendStream::EnqueueLocked(Outgoing outgoing) {
  queued_bytes_ += outgoing.bytes;
  queue_.push_back(std::move(outgoing));
  if (writing_) return nullptr;
  writing_ = true;
  last_progress_ = absl::Now();
  return &queue_.front().buffer;
}

bool SendStream::Emit(v1::Envelope intermediate) {
  absl::StatusOr<Outgoing> outgoing = Serialize(intermediate);
  grpc::ByteBuffer* start = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok() || cancelled_ || write_failed_) return false;
    if (!outgoing.ok()) {
      error_ = outgoing.status();
      return false;
    }
    if (queue_.size() >= kMaxQueuedEnvelopes ||
        queued_bytes_ + outgoing->bytes > kMaxQueuedBytes) {
      error_ = AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("the client fell behind: ", queue_.size(),
                       " envelopes (", queued_bytes_,
                       " bytes) of this stream are waiting to be written"));
      return false;
    }
    start = EnqueueLocked(*std::move(outgoing));
  }
  if (start != nullptr) StartWrite(start);
  return true;
}

void SendStream::Done(absl::StatusOr<v1::Envelope> result) {
  absl::StatusOr<Outgoing> outgoing =
      result.ok() ? Serialize(*result)
                  : absl::StatusOr<Outgoing>(result.status());
  grpc::ByteBuffer* start = nullptr;
  bool finish = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    handler_done_ = true;
    if (error_.ok() && !outgoing.ok()) error_ = outgoing.status();
    if (error_.ok() && !cancelled_ && !write_failed_) {
      start = EnqueueLocked(*std::move(outgoing));
    }
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (start != nullptr) StartWrite(start);
  if (finish) Finish(status);
}

void SendStream::OnWriteDone(bool ok) {
  grpc::ByteBuffer* next = nullptr;
  bool finish = false;
  grpc::Status status;
  std::deque<Outgoing> dropped;  // freed outside the lock
  {
    absl::MutexLock lock(&mu_);
    queued_bytes_ -= queue_.front().bytes;
    dropped.push_back(std::move(queue_.front()));
    queue_.pop_front();
    if (!ok) {
      // The client is gone or the call was cancelled: nothing more goes out.
      write_failed_ = true;
      queued_bytes_ = 0;
      while (!queue_.empty()) {
        dropped.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (queue_.empty()) {
      writing_ = false;
    } else {
      last_progress_ = absl::Now();
      next = &queue_.front().buffer;
    }
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (next != nullptr) StartWrite(next);
  if (finish) Finish(status);
}

void SendStream::OnCancel() {
  bool finish;
  grpc::Status status;
  std::deque<Outgoing> dropped;  // freed outside the lock
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // Envelopes not yet started will never be written; the one in flight
    // completes (not ok) in OnWriteDone.
    while (queue_.size() > (writing_ ? 1 : 0)) {
      queued_bytes_ -= queue_.back().bytes;
      dropped.push_back(std::move(queue_.back()));
      queue_.pop_back();
    }
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (finish) Finish(status);
}

void SendStream::OnDone() {
  watchdog_->Remove(this);
  delete this;
}

bool SendStream::ShouldFinishLocked() {
  // The handler (which uses the request and its context) must have
  // returned: finishing lets OnDone free them.
  if (finished_ || !handler_done_ || writing_) return false;
  finished_ = true;
  return true;
}

grpc::Status SendStream::FinalStatusLocked() {
  if (!error_.ok()) return ToGrpcStatus(error_, context_);
  if (stalled_) {
    return ToGrpcStatus(AsapError(ErrorCode::kCancelled,
                                  "the client read nothing for too long"),
                        context_);
  }
  if (cancelled_ || write_failed_) {
    return ToGrpcStatus(
        AsapError(ErrorCode::kCancelled, "the client stopped reading"),
        context_);
  }
  return grpc::Status::OK;
}

void SendStream::CancelIfStalled(absl::Time now, absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (!writing_ || stalled_ || now - last_progress_ < timeout) return;
    stalled_ = true;
  }
  context_->TryCancel();
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSendStream(
    const ServiceCore* core, StallWatchdog* watchdog,
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    std::string identity) {
  auto* stream = new SendStream(core, watchdog, context, std::move(identity));
  stream->Start(*request);
  return stream;
}

}  // namespace asap
