#include "client/internal/batch_call.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"

namespace asap::internal {
namespace {

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

// The error for envelope `position` when the batch fails fast on it.
absl::Status FailFastError(const absl::Status& error, size_t position) {
  absl::Status result(error.code(), absl::StrCat(error.message(),
                                                 " (batch envelope ", position,
                                                 ")"));
  error.ForEachPayload([&result](absl::string_view url, const absl::Cord& p) {
    result.SetPayload(url, p);
  });
  return result;
}

}  // namespace

absl::Status RunBatchCall(const std::shared_ptr<grpc::Channel>& channel,
                          std::vector<v1::Envelope>* envelopes,
                          const std::vector<size_t>& positions,
                          const BatchOptions& options, size_t max_frame_bytes,
                          absl::Time deadline,
                          AsapClient::BatchResults* results) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  auto stub = v1::AsapService::NewStub(channel);
  std::unique_ptr<grpc::ClientReaderWriter<v1::BatchFrame, v1::BatchResultFrame>>
      stream = stub->SendBatch(&context);
  Window window;

  std::thread writer([&] {
    size_t next = 0;
    while (next < positions.size()) {
      v1::BatchFrame frame;
      size_t bytes = 0;
      while (next < positions.size() &&
             frame.envelopes_size() < options.max_envelopes_per_frame) {
        v1::Envelope& envelope = (*envelopes)[positions[next]];
        size_t size = envelope.ByteSizeLong() + 8;  // + field tag and length
        if (frame.envelopes_size() > 0 && bytes + size > max_frame_bytes) break;
        bytes += size;
        *frame.add_envelopes() = std::move(envelope);
        ++next;
      }
      int count = frame.envelopes_size();
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
      if (!stream->Write(frame)) return;  // the stream broke: Finish says why
    }
    stream->WritesDone();
  });

  absl::Status fail_fast_error;
  std::vector<bool> answered(positions.size(), false);
  v1::BatchResultFrame frame;
  while (stream->Read(&frame)) {
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
          fail_fast_error = FailFastError(slot.status(), positions[index]);
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
  writer.join();
  grpc::Status status = stream->Finish();
  if (!fail_fast_error.ok()) return fail_fast_error;

  absl::Status stream_error =
      status.ok() ? AsapError(ErrorCode::kInternal,
                              "the server closed the batch without answering "
                              "this envelope")
                  : FromGrpcStatus(status, &context);
  for (size_t i = 0; i < positions.size(); ++i) {
    if (answered[i]) continue;
    if (options.fail_fast) return FailFastError(stream_error, positions[i]);
    (*results)[positions[i]] = stream_error;
  }
  return absl::OkStatus();
}

}  // namespace asap::internal
