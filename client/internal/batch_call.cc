#include "client/internal/batch_call.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/internal/body_codec.h"

namespace asap::internal {
namespace {

// Batches up to this size are written without a writer thread: below HTTP/2's
// initial flow-control window, so writing cannot block on the server.
constexpr size_t kInlineBatchBytes = 48 * 1024;

// What the reader and the writer thread share.
struct Window {
  absl::Mutex mu;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  bool reader_done ABSL_GUARDED_BY(mu) = false;
};

absl::Status ItemError(const v1::BatchError& error) {
  return FromGrpcStatus(grpc::Status(
      static_cast<grpc::StatusCode>(error.grpc_code()), error.message()));
}

}  // namespace

// The error for envelope `position` when the batch fails fast on it.
absl::Status BatchEnvelopeError(const absl::Status& error, size_t position) {
  absl::Status result(
      error.code(),
      absl::StrCat(error.message(), " (batch envelope ", position, ")"));
  error.ForEachPayload([&result](absl::string_view url, const absl::Cord& p) {
    result.SetPayload(url, p);
  });
  return result;
}

absl::Status RunBatchCall(const CallTracker::Call& call,
                          const std::shared_ptr<grpc::Channel>& channel,
                          const std::vector<v1::Envelope>& envelopes,
                          const std::vector<size_t>& positions,
                          const BatchOptions& options, size_t max_frame_bytes,
                          const BatchCompression& compression,
                          AsapClient::BatchResults* results,
                          BatchOutcome* outcome) {
  grpc::ClientContext& context = *call.context();
  const std::string accepted =
      AcceptEncodingList(compression.options->accept_encoding);
  if (compression.options->algorithm != Compression::kNone &&
      !accepted.empty()) {
    context.AddMetadata(kAcceptEncodingMetadataKey, accepted);
  }
  // The stream's headers go out with the first frame instead of on their own.
  context.set_initial_metadata_corked(true);
  auto stub = v1::AsapService::NewStub(channel);
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::BatchFrame, v1::BatchResultFrame>>
      stream = stub->SendBatch(&context);
  Window window;

  // A batch of fewer than two full frames is cut in two halves, so that the
  // server runs both at once (measured: 100 envelopes as 2 x 50 took ~20%
  // less time than 1 x 100 here; see docs/PERFORMANCE.md).
  const int per_frame =
      std::max(1, std::min(options.max_envelopes_per_frame,
                           static_cast<int>((positions.size() + 1) / 2)));
  size_t next = 0;
  // Cuts the next frame out of the batch; returns its envelope count.
  auto next_frame = [&](v1::BatchFrame* frame) -> int {
    size_t bytes = 0;
    while (next < positions.size() && frame->envelopes_size() < per_frame) {
      const v1::Envelope& envelope = envelopes[positions[next]];
      size_t size = envelope.ByteSizeLong() + 8;  // + field tag and length
      if (frame->envelopes_size() > 0 && bytes + size > max_frame_bytes) break;
      bytes += size;
      *frame->add_envelopes() = envelope;
      ++next;
    }
    return frame->envelopes_size();
  };
  auto compress = [&](v1::BatchFrame* frame) {
    CompressFrame(*compression.options, compression.advertised, frame);
  };

  // A small batch (within HTTP/2's initial 64 KB flow-control window and the
  // in-flight window) is written from this thread, its last frame carrying the
  // half-close: no writer thread, no extra round trip. A larger one gets a
  // writer thread, so that reading results never waits for writing.
  std::vector<v1::BatchFrame> small_batch;
  {
    size_t bytes = 0;
    size_t count = 0;
    for (size_t p : positions) {
      bytes += envelopes[p].ByteSizeLong() + 8;
      ++count;
      if (bytes > kInlineBatchBytes) break;
    }
    if (bytes <= kInlineBatchBytes &&
        count <= static_cast<size_t>(options.window)) {
      while (next < positions.size()) {
        small_batch.emplace_back();
        next_frame(&small_batch.back());
        compress(&small_batch.back());
      }
    }
  }
  std::thread writer;
  if (!small_batch.empty()) {
    {
      absl::MutexLock lock(&window.mu);
      window.in_flight = static_cast<int>(positions.size());
    }
    for (size_t i = 0; i < small_batch.size(); ++i) {
      // Corked until the last frame, which flushes them all with the
      // half-close.
      bool ok = i + 1 == small_batch.size()
                    ? stream->Write(small_batch[i],
                                    grpc::WriteOptions().set_last_message())
                    : stream->Write(small_batch[i],
                                    grpc::WriteOptions().set_buffer_hint());
      if (!ok) break;  // the stream broke: Finish says why
    }
  } else {
    writer = std::thread([&] {
      while (next < positions.size()) {
        v1::BatchFrame frame;
        int count = next_frame(&frame);
        compress(&frame);
        {
          absl::MutexLock lock(&window.mu);
          auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(window.mu) {
            return window.reader_done || window.in_flight == 0 ||
                   window.in_flight + count <= options.window;
          };
          window.mu.Await(absl::Condition(&room));
          if (window.reader_done) return;
          window.in_flight += count;
        }
        bool last = next == positions.size();
        bool ok =
            last ? stream->Write(frame, grpc::WriteOptions().set_last_message())
                 : stream->Write(frame);
        if (!ok) return;  // the stream broke: Finish says why
      }
    });
  }

  absl::Status fail_fast_error;
  std::vector<bool> answered(positions.size(), false);
  v1::BatchResultFrame frame;
  absl::Status decode_error;
  while (stream->Read(&frame)) {
    if (absl::Status decoded =
            DecodeResultFrame(compression.max_message_bytes, &frame);
        !decoded.ok()) {
      // Results that cannot be read end the batch: the envelopes without an
      // answer get this error.
      if (decode_error.ok()) {
        decode_error = decoded;
        context.TryCancel();
      }
      continue;
    }
    int count = 0;
    for (v1::BatchResult& result : *frame.mutable_results()) {
      uint64_t index = result.index();
      if (index >= positions.size() || answered[index]) continue;  // bogus
      answered[index] = true;
      ++count;
      absl::StatusOr<v1::Envelope>& slot = (*results)[positions[index]];
      if (result.has_response()) {
        slot = std::move(*result.mutable_response());
      } else {
        slot = ItemError(result.error());
        if (options.fail_fast && fail_fast_error.ok()) {
          fail_fast_error = BatchEnvelopeError(slot.status(), positions[index]);
          context.TryCancel();
        }
      }
    }
    absl::MutexLock lock(&window.mu);
    window.in_flight -= count;
  }
  {
    absl::MutexLock lock(&window.mu);
    window.reader_done = true;
  }
  // Read() returning false means the call is over, so a writer blocked in
  // Write() returns at once (cancelling here would turn a deadline into
  // CANCELLED).
  if (writer.joinable()) writer.join();
  grpc::Status status = stream->Finish();
  if (!fail_fast_error.ok()) return fail_fast_error;

  absl::Status stream_error =
      !decode_error.ok() ? decode_error
      : status.ok()      ? AsapError(ErrorCode::kInternal,
                                     "the server closed the batch without answering "
                                          "this envelope")
                         : call.Error(status);
  outcome->status = status;
  outcome->error = stream_error;
  outcome->unanswered.clear();
  for (size_t i = 0; i < positions.size(); ++i) {
    if (answered[i]) continue;
    (*results)[positions[i]] = stream_error;
    outcome->unanswered.push_back(positions[i]);
  }
  return absl::OkStatus();
}

}  // namespace asap::internal
