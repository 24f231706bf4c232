// The properties every CompressionCodec must have on any input, shared by
// gzip_fuzz and brotli_fuzz.
#ifndef ASAP_TESTS_FUZZ_CODEC_FUZZ_H_
#define ASAP_TESTS_FUZZ_CODEC_FUZZ_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace asap::fuzz {

// Decompresses `data` as `codec` (a wire name) with a 1 MiB limit, then
// compresses it and checks the round trip. Aborts on any violation.
void FuzzCodec(absl::string_view codec, const uint8_t* data, size_t size);

}  // namespace asap::fuzz

#endif  // ASAP_TESTS_FUZZ_CODEC_FUZZ_H_
