// The server side of SendCompressed: decompress, parse, dispatch, compress.
#ifndef ASAP_SERVER_COMPRESSED_SEND_H_
#define ASAP_SERVER_COMPRESSED_SEND_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "asap/v1/service.pb.h"
#include "server/dispatcher.h"

namespace asap {

struct CompressedSendLimits {
  // Largest decompressed request accepted (the server's message limit).
  size_t max_decompressed_bytes = 10 * 1024 * 1024;
  // Responses at least this large are compressed (when the client accepts an
  // encoding and the result is smaller).
  size_t response_threshold_bytes = 1024;
};

// Answers one SendCompressed request. Errors: asap:transport/
// unsupported_encoding (lists the supported encodings),
// asap:transport/corrupt_body, asap:transport/payload_too_large (a body that
// decompresses past the limit: stopped as soon as it passes it),
// asap:protocol/malformed_envelope (the decompressed bytes are not an
// Envelope), and everything Dispatch returns.
absl::StatusOr<v1::CompressedEnvelope> HandleCompressedSend(
    const EnvelopeDispatcher& dispatcher, const v1::CompressedEnvelope& request,
    const CompressedSendLimits& limits);

}  // namespace asap

#endif  // ASAP_SERVER_COMPRESSED_SEND_H_
