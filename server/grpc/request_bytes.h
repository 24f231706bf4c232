// Reading a request's bytes off gRPC with every bound applied.
//
// The server turns off gRPC's own per-message decompression
// (GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION = 0): gRPC 1.51 inflates a
// whole `grpc-encoding: gzip` message before it checks the receive limit, so
// a small bomb could take gigabytes. Messages then arrive as sent, marked
// with their compression algorithm, and are inflated here with asap's codec,
// which stops as soon as the output passes the limit.
#ifndef ASAP_SERVER_GRPC_REQUEST_BYTES_H_
#define ASAP_SERVER_GRPC_REQUEST_BYTES_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace asap {

// The message in `buffer`, decompressed when gRPC-compressed, at most
// `max_bytes` long. Errors: asap:transport/payload_too_large,
// asap:transport/corrupt_body, asap:transport/unsupported_encoding.
absl::StatusOr<std::string> ReadRequestBytes(const grpc::ByteBuffer& buffer,
                                             size_t max_bytes);

// Bytes `buffer` holds on the wire (compressed size when compressed).
size_t WireSize(const grpc::ByteBuffer& buffer);

// True when the message arrived gRPC-compressed (ReadRequestBytes inflates
// it, up to its limit).
bool IsGrpcCompressed(const grpc::ByteBuffer& buffer);

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_REQUEST_BYTES_H_
