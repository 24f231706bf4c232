#include "server/grpc/batch_stream.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <atomic>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/wire_limits.h"
#include "google/protobuf/arena.h"
#include "server/grpc/compressed_send.h"
#include "server/grpc/request_bytes.h"
#include "server/metrics.h"

namespace asap {

// A frame read from the stream, from its bytes to its results.
struct BatchFrameWork {
  std::string bytes;  // until parsed
  int64_t envelopes = 0;
  uint64_t first_index = 0;
  // When not OK (memory quota), every envelope of the frame gets this error
  // without being parsed.
  absl::Status refused;
  MemoryBudget::Reservation memory;
  google::protobuf::Arena arena;
  std::vector<absl::StatusOr<v1::Envelope>> results;
  std::atomic<int64_t> remaining{0};
  // For ServerMetrics: when the frame was read, and the parsed frame (in
  // `arena`) whose envelopes' payload types label the results; null when the
  // frame was not parsed.
  absl::Time arrived;
  const v1::BatchFrame* frame = nullptr;
};

class BatchStream
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
      public StallWatchdog::Stream {
 public:
  BatchStream(const ServiceCore* core, StallWatchdog* watchdog,
              grpc::CallbackServerContext* context, std::string identity)
      : core_(core),
        watchdog_(watchdog),
        context_(context),
        handler_context_(core->manifest) {
    FillHandlerContext(context, std::move(identity), &handler_context_);
    if (core->metrics != nullptr) {
      in_flight_ = core->metrics->TrackCall(ServerMetrics::kGrpc);
    }
    result_accept_encoding_ = std::string(
        handler_context_.metadata(kAcceptEncodingMetadataKey).value_or(""));
    {
      // The first read, started below: a Drain from now on waits for it.
      absl::MutexLock lock(&mu_);
      reading_ = true;
    }
    // A stream that arrives while the server drains ends at its first read.
    if (!watchdog_->Add(this)) Drain();
    context->AddInitialMetadata(kAcceptEncodingMetadataKey,
                                ServerAcceptEncoding());
    StartSendInitialMetadata();
    StartRead(&read_buffer_);
  }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  void CancelIfStalled(absl::Time now, absl::Duration timeout) override;
  void Drain() override;

 private:
  struct Outgoing {
    grpc::ByteBuffer buffer;
    // The frame's last result frame: writing it frees a window slot.
    bool ends_frame = false;
    MemoryBudget::Reservation memory;
  };

  // Reads the frame's bytes into `work` or returns the error that ends the
  // stream.
  absl::Status Accept(BatchFrameWork* work);
  void Run(std::shared_ptr<BatchFrameWork> work);
  void Complete(BatchFrameWork* work);
  // Counts the frame's envelopes with their outcomes in ServerMetrics.
  void RecordEnvelopes(const BatchFrameWork& work);
  std::deque<Outgoing> ResultFrames(BatchFrameWork* work);
  // Called with mu_ held; true when Finish must be called now.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopReadingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    stop_reading_ = true;
    if (!reading_) read_done_ = true;
  }
  grpc::Status FinalStatusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServiceCore* const core_;
  StallWatchdog* const watchdog_;
  grpc::CallbackServerContext* const context_;
  HandlerContext handler_context_;
  ServerMetrics::InFlight in_flight_;
  // Encodings the client accepts for result frames ("" = identity only).
  std::string result_accept_encoding_;
  grpc::ByteBuffer read_buffer_;
  // Position of the next frame's first envelope. Reads come one at a time;
  // the lock only makes that ordering visible to TSan.
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 0;

  absl::Mutex mu_;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_reading_ ABSL_GUARDED_BY(mu_) = false;
  int frames_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Outgoing> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_) = absl::Now();
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The server drains: the stream reads no more frames (a read in progress
  // completes unused: the client sends its next frame once results free its
  // window, or half-closes) and ends once the frames read are answered.
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stream_error_ ABSL_GUARDED_BY(mu_);
};

void SetBatchError(const absl::Status& status, v1::BatchError* error) {
  grpc::Status wire = ToGrpcStatus(status);
  error->set_asap_code(std::string(ErrorCodeName(*ErrorCodeOf(status))));
  error->set_grpc_code(static_cast<int>(wire.error_code()));
  error->set_message(wire.error_message());
}

absl::Status BatchStream::Accept(BatchFrameWork* work) {
  // The frame's size on the wire and decoded (as far as it got), counted
  // whether or not it is accepted.
  const size_t wire_bytes = WireSize(read_buffer_);
  size_t decoded_bytes = 0;
  absl::Cleanup record_bytes = [&] {
    if (core_->metrics == nullptr) return;
    core_->metrics->RecordBytes(ServerMetrics::kGrpc,
                                ServerMetrics::Direction::kIn, wire_bytes,
                                decoded_bytes);
  };
  absl::StatusOr<std::string> bytes =
      ReadRequestBytes(read_buffer_, core_->max_message_bytes);
  read_buffer_.Clear();
  if (!bytes.ok()) return bytes.status();
  decoded_bytes = bytes->size();
  absl::StatusOr<WireCounts> counts = ScanBatchFrameBytes(
      *bytes, core_->max_envelopes_per_frame, core_->envelope_limits);
  if (!counts.ok()) return counts.status();
  if (counts->envelopes == 0 && !bytes->empty()) {
    // No envelopes of its own: a compressed frame (or an empty one).
    v1::BatchFrame outer;
    if (!outer.ParseFromString(*bytes)) {
      return AsapError(ErrorCode::kMalformedEnvelope,
                       "a batch frame is not a serialized BatchFrame");
    }
    if (!outer.encoding().empty() || !outer.body().empty()) {
      // Room for the decompressed frame, held while it is inflated.
      absl::StatusOr<MemoryBudget::Reservation> inflating =
          core_->memory->Reserve(core_->max_message_bytes);
      if (!inflating.ok()) return inflating.status();
      bytes =
          DecodeBody(outer.encoding(), outer.body(), core_->max_message_bytes);
      if (!bytes.ok()) return bytes.status();
      decoded_bytes = bytes->size();
      counts = ScanBatchFrameBytes(*bytes, core_->max_envelopes_per_frame,
                                   core_->envelope_limits);
      if (!counts.ok()) return counts.status();
    }
  }
  work->envelopes = counts->envelopes;
  {
    absl::MutexLock lock(&mu_);
    work->first_index = next_index_;
    next_index_ += counts->envelopes;
  }
  // Twice the parsed size: the envelopes and their results are held at once.
  absl::StatusOr<MemoryBudget::Reservation> memory =
      core_->memory->Reserve(2 * EstimateParsedBytes(bytes->size(), *counts));
  if (memory.ok()) {
    work->memory = *std::move(memory);
    work->bytes = *std::move(bytes);
  } else {
    work->refused = memory.status();
  }
  return absl::OkStatus();
}

void BatchStream::OnReadDone(bool ok) {
  std::shared_ptr<BatchFrameWork> work;
  absl::Status accepted;
  if (ok) {
    work = std::make_shared<BatchFrameWork>();
    work->arrived = absl::Now();
    accepted = Accept(work.get());
  }
  bool submit = false;
  bool read_more = false;
  bool finish = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (!ok || stop_reading_) {
      // Half-closed by the client, or the stream is ending anyway.
      read_done_ = true;
    } else if (!accepted.ok()) {
      stream_error_ = accepted;
      StopReadingLocked();
    } else {
      if (work->envelopes > 0) {
        ++frames_in_flight_;
        submit = true;
      }
      read_more = frames_in_flight_ < core_->batch_frames_in_flight;
      reading_ = read_more;
    }
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (submit) core_->workers->Submit([this, work] { Run(work); });
  if (read_more) StartRead(&read_buffer_);
  if (finish) Finish(status);
}

void BatchStream::Run(std::shared_ptr<BatchFrameWork> work) {
  work->results.resize(work->envelopes, absl::InternalError("not run"));
  if (!work->refused.ok()) {
    for (auto& result : work->results) result = work->refused;
    Complete(work.get());
    return;
  }
  auto* frame =
      google::protobuf::Arena::CreateMessage<v1::BatchFrame>(&work->arena);
  bool parsed = frame->ParseFromString(work->bytes);
  std::string().swap(work->bytes);
  if (!parsed || frame->envelopes_size() != work->envelopes) {
    for (auto& result : work->results) {
      result = AsapError(ErrorCode::kMalformedEnvelope,
                         "the batch frame is not a serialized BatchFrame");
    }
    Complete(work.get());
    return;
  }
  work->frame = frame;
  work->remaining.store(work->envelopes);
  for (int64_t i = 0; i < work->envelopes; ++i) {
    core_->dispatcher->Dispatch(
        frame->mutable_envelopes(static_cast<int>(i)), &handler_context_,
        /*may_block=*/true,
        [this, work, i](absl::StatusOr<v1::Envelope> result) {
          work->results[i] = std::move(result);
          if (work->remaining.fetch_sub(1) == 1) Complete(work.get());
        });
  }
}

std::deque<BatchStream::Outgoing> BatchStream::ResultFrames(
    BatchFrameWork* work) {
  // Room for the frame's own tag and length and a result's.
  const size_t limit = core_->max_message_bytes - 64;
  std::deque<Outgoing> out;
  v1::BatchResultFrame current;
  size_t current_size = 0;
  auto flush = [&] {
    Outgoing outgoing;
    bool own;
    std::string serialized = current.SerializeAsString();
    const size_t decoded_bytes = serialized.size();
    v1::CompressedEnvelope encoded =
        EncodeBody(std::move(serialized), result_accept_encoding_,
                   core_->compression_threshold_bytes, kStreamCompressionLevel);
    if (encoded.encoding() != kIdentityEncoding) {
      v1::BatchResultFrame compressed;
      compressed.set_encoding(encoded.encoding());
      compressed.set_body(std::move(*encoded.mutable_body()));
      grpc::SerializationTraits<v1::BatchResultFrame>::Serialize(
          compressed, &outgoing.buffer, &own);
    } else {
      grpc::SerializationTraits<v1::BatchResultFrame>::Serialize(
          current, &outgoing.buffer, &own);
    }
    if (core_->metrics != nullptr) {
      core_->metrics->RecordBytes(ServerMetrics::kGrpc,
                                  ServerMetrics::Direction::kOut,
                                  outgoing.buffer.Length(), decoded_bytes);
    }
    out.push_back(std::move(outgoing));
    current.Clear();
    current_size = 0;
  };
  for (int64_t i = 0; i < work->envelopes; ++i) {
    v1::BatchResult result;
    result.set_index(work->first_index + i);
    if (work->results[i].ok()) {
      *result.mutable_response() = *std::move(work->results[i]);
    } else {
      SetBatchError(work->results[i].status(), result.mutable_error());
    }
    size_t size = result.ByteSizeLong() + 16;
    if (size > limit) {
      result.clear_response();
      SetBatchError(AsapError(ErrorCode::kPayloadTooLarge,
                              absl::StrCat("the response of ", size,
                                           " bytes exceeds the message "
                                           "limit of ",
                                           core_->max_message_bytes)),
                    result.mutable_error());
      size = result.ByteSizeLong() + 16;
    }
    if (current_size + size > limit && current.results_size() > 0) flush();
    current.add_results()->Swap(&result);
    current_size += size;
  }
  if (current.results_size() > 0 || out.empty()) flush();
  out.back().ends_frame = true;
  out.back().memory = std::move(work->memory);
  return out;
}

void BatchStream::RecordEnvelopes(const BatchFrameWork& work) {
  ServerMetrics* metrics = core_->metrics;
  if (metrics == nullptr) return;
  // The frame's results are written together: all are ready now.
  const absl::Duration latency = absl::Now() - work.arrived;
  for (int64_t i = 0; i < work.envelopes; ++i) {
    absl::string_view payload_type =
        work.frame != nullptr
            ? absl::string_view(
                  work.frame->envelopes(static_cast<int>(i)).payload_type())
            : absl::string_view();
    metrics->RecordEnvelope(ServerMetrics::kGrpc, payload_type,
                            ServerMetrics::Outcome(work.results[i].status()),
                            latency);
  }
}

void BatchStream::Complete(BatchFrameWork* work) {
  RecordEnvelopes(*work);
  std::deque<Outgoing> frames = ResultFrames(work);
  grpc::ByteBuffer* start = nullptr;
  bool finish = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || write_failed_) {
      // Nobody will read the results: drop them (after the lock).
      --frames_in_flight_;
      finish = ShouldFinishLocked();
      if (finish) status = FinalStatusLocked();
    } else {
      for (Outgoing& outgoing : frames) queue_.push_back(std::move(outgoing));
      frames.clear();
      if (!writing_) {
        writing_ = true;
        last_progress_ = absl::Now();
        start = &queue_.front().buffer;
      }
    }
  }
  if (start != nullptr) StartWrite(start);
  if (finish) Finish(status);
}

void BatchStream::OnWriteDone(bool ok) {
  grpc::ByteBuffer* next = nullptr;
  bool read_more = false;
  bool finish = false;
  grpc::Status status;
  std::deque<Outgoing> dropped;  // freed outside the lock
  {
    absl::MutexLock lock(&mu_);
    dropped.push_back(std::move(queue_.front()));
    queue_.pop_front();
    if (!ok) {
      // The client is gone or cancelled: drop what was still to be sent.
      write_failed_ = true;
      for (Outgoing& outgoing : queue_) {
        if (outgoing.ends_frame) --frames_in_flight_;
      }
      if (dropped.front().ends_frame) --frames_in_flight_;
      while (!queue_.empty()) {
        dropped.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      writing_ = false;
      StopReadingLocked();
    } else {
      last_progress_ = absl::Now();
      if (dropped.front().ends_frame) {
        --frames_in_flight_;
        if (!reading_ && !read_done_ && !stop_reading_ &&
            frames_in_flight_ < core_->batch_frames_in_flight) {
          reading_ = read_more = true;
        }
      }
      if (queue_.empty()) {
        writing_ = false;
      } else {
        next = &queue_.front().buffer;
      }
    }
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (read_more) StartRead(&read_buffer_);
  if (next != nullptr) StartWrite(next);
  if (finish) Finish(status);
}

void BatchStream::OnCancel() {
  bool finish;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    StopReadingLocked();
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (finish) Finish(status);
}

void BatchStream::OnDone() {
  watchdog_->Remove(this);
  if (core_->metrics != nullptr) {
    absl::MutexLock lock(&mu_);
    if (next_index_ > 0) {
      core_->metrics->RecordBatch(ServerMetrics::kGrpc, next_index_);
    }
  }
  delete this;
}

bool BatchStream::ShouldFinishLocked() {
  if (finished_ || !read_done_ || frames_in_flight_ > 0 || writing_) {
    return false;
  }
  finished_ = true;
  return true;
}

grpc::Status BatchStream::FinalStatusLocked() {
  if (!stream_error_.ok()) return ToGrpcStatus(stream_error_, context_);
  if (stalled_) {
    return ToGrpcStatus(
        AsapError(ErrorCode::kCancelled,
                  "the client read no batch results for too long"),
        context_);
  }
  if (write_failed_ || cancelled_) {
    return ToGrpcStatus(AsapError(ErrorCode::kCancelled,
                                  "the client stopped reading batch results"),
                        context_);
  }
  return grpc::Status::OK;
}

void BatchStream::CancelIfStalled(absl::Time now, absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (!writing_ || stalled_ || now - last_progress_ < timeout) return;
    stalled_ = true;
  }
  context_->TryCancel();
}

void BatchStream::Drain() {
  bool finish;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || draining_) return;
    draining_ = true;
    if (stream_error_.ok()) {
      stream_error_ = AsapError(
          ErrorCode::kUnavailable,
          "the agent is shutting down: send the envelopes that have no result "
          "again, to another replica");
    }
    StopReadingLocked();
    finish = ShouldFinishLocked();
    if (finish) status = FinalStatusLocked();
  }
  if (finish) Finish(status);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StartBatchStream(
    const ServiceCore* core, StallWatchdog* watchdog,
    grpc::CallbackServerContext* context, std::string identity) {
  return new BatchStream(core, watchdog, context, std::move(identity));
}

}  // namespace asap
