// The body of gzip_fuzz and brotli_fuzz: decompression with a limit never
// crashes or passes the limit, and compressing any input round-trips.
#ifndef ASAP_TESTS_FUZZ_CODEC_FUZZ_H_
#define ASAP_TESTS_FUZZ_CODEC_FUZZ_H_

#include <cstdint>
#include <cstdlib>
#include <string>

#include "asap/compression/codec.h"

namespace asap::fuzz {

inline int FuzzCodec(absl::string_view encoding, const uint8_t* data,
                     size_t size) {
  constexpr size_t kLimit = 1 << 20;
  const CompressionCodec* codec = *FindCodec(encoding);
  std::string input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::string> output = codec->Decompress(input, kLimit);
  if (output.ok() && output->size() > kLimit) std::abort();
  absl::StatusOr<std::string> compressed = codec->Compress(input, 1);
  if (!compressed.ok()) std::abort();
  absl::StatusOr<std::string> back = codec->Decompress(*compressed, size);
  if (!back.ok() || *back != input) std::abort();
  return 0;
}

}  // namespace asap::fuzz

#endif  // ASAP_TESTS_FUZZ_CODEC_FUZZ_H_
