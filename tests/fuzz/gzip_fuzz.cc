#include "tests/fuzz/codec_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return asap::fuzz::FuzzCodec("gzip", data, size);
}
