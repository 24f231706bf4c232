// Compressed bodies on the server: the one place that decodes what a client
// compressed (SendCompressed bodies) and encodes what the server sends back.
#ifndef ASAP_SERVER_GRPC_COMPRESSED_SEND_H_
#define ASAP_SERVER_GRPC_COMPRESSED_SEND_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/compression/codec.h"
#include "asap/v1/service.pb.h"

namespace asap {

// The encodings the server decodes, as advertised to clients in the initial
// metadata kAcceptEncodingMetadataKey of every AsapService response.
std::string ServerAcceptEncoding();

// The bytes of a body sent with `encoding` ("identity" or empty, "gzip",
// "br"), at most `limit` of them once decoded. Errors:
// asap:transport/unsupported_encoding (listing the supported encodings),
// asap:transport/corrupt_body, asap:transport/payload_too_large (stopped as
// soon as the output passes the limit).
absl::StatusOr<std::string> DecodeBody(absl::string_view encoding,
                                       absl::string_view body, size_t limit);

// `serialized` as a CompressedEnvelope for a peer accepting
// `accept_encoding`: compressed when at least `threshold` bytes, the peer
// accepts an encoding and compressing makes it smaller; identity otherwise.
// `level` is the codec's (-1: its default).
v1::CompressedEnvelope EncodeBody(std::string serialized,
                                  absl::string_view accept_encoding,
                                  size_t threshold, int level = -1);

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_COMPRESSED_SEND_H_
