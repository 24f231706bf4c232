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

// Streams envelopes[positions[i]] (moving them out) over one SendBatch call on
// `channel`, with the context of `call` (its deadline already set), and stores
// each answer at (*results)[positions[i]]. Envelopes that get no answer are
// given the stream's final error. With fail_fast, stops at the first error and
// returns it; otherwise returns OK.
//
// Frames are compressed as Send bodies are (client/internal/body_codec.h),
// for a target that advertised `advertised`; result frames are accepted in
// `compression.accept_encoding` and decompressed up to `max_message_bytes`.
struct BatchCompression {
  const CompressionOptions* options = nullptr;
  std::string advertised;
  size_t max_message_bytes = 0;
};
absl::Status RunBatchCall(const CallTracker::Call& call,
                          const std::shared_ptr<grpc::Channel>& channel,
                          std::vector<v1::Envelope>* envelopes,
                          const std::vector<size_t>& positions,
                          const BatchOptions& options, size_t max_frame_bytes,
                          const BatchCompression& compression,
                          AsapClient::BatchResults* results);

}  // namespace asap::internal

#endif  // ASAP_CLIENT_INTERNAL_BATCH_CALL_H_
