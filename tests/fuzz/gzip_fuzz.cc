// Fuzzes the gzip codec (asap/compression): see codec_fuzz.h.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/codec_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  asap::fuzz::FuzzCodec("gzip", data, size);
  return 0;
}
