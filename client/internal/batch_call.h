// One SendBatch stream from the client side (used by AsapClient::SendBatch).
#ifndef ASAP_CLIENT_INTERNAL_BATCH_CALL_H_
#define ASAP_CLIENT_INTERNAL_BATCH_CALL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asap/v1/envelope.pb.h"
#include "client/asap_client.h"
#include "client/internal/call_tracker.h"

namespace asap::internal {

// Streams envelopes[positions[i]] (copies: the caller may resend them) over
// one SendBatch call on `channel`, with the context of `call` (its deadline
// already set), and stores each answer at (*results)[positions[i]].
// Envelopes that get no answer are given the stream's final error and listed
// in `outcome`, so that the caller can resend them on another stream. With
// fail_fast, stops at the first error an envelope got and returns it;
// otherwise (and for a stream that failed) returns OK.
//
// Frames are compressed as Send bodies are (client/internal/body_codec.h),
// for a target that advertised `advertised`; result frames are accepted in
// `compression.accept_encoding` and decompressed up to `max_message_bytes`.
struct BatchCompression {
  const CompressionOptions* options = nullptr;
  std::string advertised;
  size_t max_message_bytes = 0;
};
// How the stream ended, when some envelopes got no answer.
struct BatchOutcome {
  // The stream's gRPC status (OK when the server closed it early).
  grpc::Status status;
  // The error the unanswered envelopes were given.
  absl::Status error;
  // Their positions in the batch, ascending.
  std::vector<size_t> unanswered;
};
// `error` for envelope `position` of a batch that fails fast on it: the
// message names the position; code and payloads are kept.
absl::Status BatchEnvelopeError(const absl::Status& error, size_t position);

absl::Status RunBatchCall(const CallTracker::Call& call,
                          const std::shared_ptr<grpc::Channel>& channel,
                          const std::vector<v1::Envelope>& envelopes,
                          const std::vector<size_t>& positions,
                          const BatchOptions& options, size_t max_frame_bytes,
                          const BatchCompression& compression,
                          AsapClient::BatchResults* results,
                          BatchOutcome* outcome);

}  // namespace asap::internal

#endif  // ASAP_CLIENT_INTERNAL_BATCH_CALL_H_
