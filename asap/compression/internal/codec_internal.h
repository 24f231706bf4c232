// Private to //asap/compression: the codec instances and the helpers the gzip
// and brotli implementations share. Not part of the public API.
#ifndef ASAP_COMPRESSION_INTERNAL_CODEC_INTERNAL_H_
#define ASAP_COMPRESSION_INTERNAL_CODEC_INTERNAL_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asap/compression/codec.h"

namespace asap {
namespace compression_internal {

// The gzip codec: an immutable function-local static.
const CompressionCodec& GzipCodec();

// The brotli codec: an immutable function-local static.
const CompressionCodec& BrotliCodec();

// The size of the scratch buffer codecs write output into, one chunk at a time.
inline constexpr size_t kChunkBytes = 64 * 1024;

// How many bytes the next decompression step may write when `produced` bytes
// are already out and the limit is `max_output_bytes`: a full chunk, or just
// one byte more than the limit allows, so that passing the limit is noticed
// without ever decoding far past it. Always at least 1; never overflows.
inline size_t NextChunkBytes(size_t produced, size_t max_output_bytes) {
  size_t room = max_output_bytes - produced;  // produced <= max_output_bytes
  return room < kChunkBytes ? room + 1 : kChunkBytes;
}

// kPayloadTooLarge: "<codec>: decompressed data exceeds the limit of N bytes".
absl::Status TooLargeError(absl::string_view codec, size_t max_output_bytes);

// kCorruptBody: "<codec>: <what>".
absl::Status CorruptError(absl::string_view codec, absl::string_view what);

// kInternal: "<codec>: <what>".
absl::Status InternalError(absl::string_view codec, absl::string_view what);

}  // namespace compression_internal
}  // namespace asap

#endif  // ASAP_COMPRESSION_INTERNAL_CODEC_INTERNAL_H_
