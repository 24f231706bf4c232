// Compressed Send bodies on the client: the one place that decides whether
// and how a request body is compressed, and that decodes the answer.
//
// A request goes through SendCompressed only when the target has advertised
// (initial metadata `asap-accept-encoding`, on any response) an encoding this
// build has; until then, and for small bodies, it goes by plain Send. Guessing
// instead (trying SendCompressed and falling back on an error) could run the
// handler twice.
#ifndef ASAP_CLIENT_INTERNAL_BODY_CODEC_H_
#define ASAP_CLIENT_INTERNAL_BODY_CODEC_H_

#include <grpcpp/client_context.h>

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/compression/codec.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/service.pb.h"
#include "client/compression_options.h"

namespace asap::internal {

// The encodings the server advertised in the initial metadata of a finished
// call (all values of the key, joined with ", "), or nullopt when its
// response carried none (also when no response came at all).
std::optional<std::string> AdvertisedEncodings(
    const grpc::ClientContext& context);

// The encoding of a request body of `size` bytes to a target that advertised
// `advertised` ("" = nothing yet): `options.algorithm`'s name if advertised,
// else the first of this build's encodings that is advertised, and
// "identity" (plain Send) when compression is off, the body is under the
// threshold or nothing fits.
std::string ChooseRequestEncoding(size_t size,
                                  const CompressionOptions& options,
                                  absl::string_view advertised);

// The SendCompressed request for `envelope`, or nullopt when it goes by plain
// Send: ChooseRequestEncoding says identity, or compressing does not make it
// smaller. Errors: the codec's (asap/compression/codec.h).
absl::StatusOr<std::optional<v1::CompressedEnvelope>> EncodeRequestBody(
    const v1::Envelope& envelope, const CompressionOptions& options,
    absl::string_view advertised);

// The Envelope inside a SendCompressed answer, at most `max_bytes` once
// decompressed. Errors: asap:transport/unsupported_encoding,
// asap:transport/corrupt_body, asap:transport/payload_too_large,
// asap:protocol/malformed_envelope (the bytes are not an Envelope).
absl::StatusOr<v1::Envelope> DecodeResponseBody(
    const v1::CompressedEnvelope& answer, size_t max_bytes);

// Compresses a SendBatch frame in place, like a Send body: when
// ChooseRequestEncoding picks an encoding and compressing makes the frame
// smaller, `frame` becomes {encoding, body = compressed serialized frame}.
// A frame that cannot be compressed is left as it is.
void CompressFrame(const CompressionOptions& options,
                   absl::string_view advertised, v1::BatchFrame* frame);

// The results of a SendBatch result frame: `frame` itself, or the frame its
// compressed body holds (at most `max_bytes` once decompressed). Errors as
// DecodeResponseBody, with asap:protocol/malformed_envelope for bytes that
// are not a BatchResultFrame.
absl::Status DecodeResultFrame(size_t max_bytes, v1::BatchResultFrame* frame);

}  // namespace asap::internal

#endif  // ASAP_CLIENT_INTERNAL_BODY_CODEC_H_
