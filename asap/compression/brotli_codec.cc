// The brotli codec (RFC 7932) on libbrotlienc / libbrotlidec.
#include <brotli/decode.h>
#include <brotli/encode.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asap/compression/codec.h"
#include "asap/compression/internal/codec_internal.h"

namespace asap {
namespace compression_internal {
namespace {

// The default quality: 5, the lowest brotli quality that compresses JSON
// smaller than gzip level 6 at every body size measured, at about gzip-6's
// speed for large bodies.
//
// Measured on deterministic varied JSON-like records (the generator of
// codec_test.cc), this build, -O2, one x86-64 core, medians:
//
//   body       gzip-6             br-4               br-5
//   1 KiB      469 B    37 us     444 B    61 us     409 B    68 us
//   16 KiB     3958 B   343 us    3993 B   392 us    3660 B   521 us
//   256 KiB    52297 B  7.7 ms    57262 B  4.7 ms    52286 B  7.6 ms
//   1 MiB      205627 B 31.6 ms   212517 B 24.0 ms   199121 B 33.0 ms
//
// Quality 4 and below are faster but lose to gzip-6 on size from 16 KiB up;
// 6 and above are smaller still but slower than gzip-6 at every size. Quality
// 5 is as fast as gzip-6 from about 256 KiB up (within the run-to-run noise of
// about 10%), and 1.3-1.8x slower below that, where the absolute cost is tens
// to hundreds of microseconds. Brotli also decompresses 10-30% faster than
// gzip on the same data. Callers that send many small bodies and care more
// about CPU than bytes can pass a lower quality explicitly.
constexpr int kDefaultQuality = 5;
constexpr int kMinQuality = BROTLI_MIN_QUALITY;  // 0
constexpr int kMaxQuality = BROTLI_MAX_QUALITY;  // 11

struct DecoderDeleter {
  void operator()(BrotliDecoderState* state) const {
    BrotliDecoderDestroyInstance(state);
  }
};

class BrotliCodecImpl final : public CompressionCodec {
 public:
  absl::string_view name() const override { return kBrotliEncoding; }

  absl::StatusOr<std::string> Compress(absl::string_view input,
                                       int level) const override {
    if (level == -1) level = kDefaultQuality;
    if (level < kMinQuality || level > kMaxQuality) {
      return InternalError(name(),
                           absl::StrCat("compression quality ", level,
                                        " is out of range (0 to 11, or -1 for ",
                                        kDefaultQuality, ")"));
    }
    // One-shot compression into a buffer of the worst-case size: measured
    // 5-15% faster than the streaming encoder for bodies up to 64 KiB, and
    // never slower for larger ones.
    size_t bound = BrotliEncoderMaxCompressedSize(input.size());
    if (bound == 0) return InternalError(name(), "input too large");
    std::string output(bound, '\0');
    size_t encoded_size = bound;
    if (!BrotliEncoderCompress(
            level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, input.size(),
            reinterpret_cast<const uint8_t*>(input.data()), &encoded_size,
            reinterpret_cast<uint8_t*>(&output[0]))) {
      return InternalError(name(), "the encoder failed");
    }
    output.resize(encoded_size);
    // Give back the worst-case buffer when most of it went unused.
    if (output.capacity() > 2 * encoded_size + kChunkBytes) {
      output.shrink_to_fit();
    }
    return output;
  }

  absl::StatusOr<std::string> Decompress(
      absl::string_view input, size_t max_output_bytes) const override {
    if (input.empty()) return CorruptError(name(), "empty input");
    std::unique_ptr<BrotliDecoderState, DecoderDeleter> decoder(
        BrotliDecoderCreateInstance(nullptr, nullptr, nullptr));
    if (decoder == nullptr) return InternalError(name(), "out of memory");

    // Not value-initialized: the decoder writes before anything reads.
    std::unique_ptr<uint8_t[]> chunk(new uint8_t[kChunkBytes]);
    size_t available_in = input.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(input.data());
    std::string output;
    while (true) {
      // Never let the decoder write more than one byte past the limit.
      size_t want = NextChunkBytes(output.size(), max_output_bytes);
      size_t available_out = want;
      uint8_t* next_out = chunk.get();
      BrotliDecoderResult result = BrotliDecoderDecompressStream(
          decoder.get(), &available_in, &next_in, &available_out, &next_out,
          /*total_out=*/nullptr);
      size_t produced = want - available_out;
      if (produced > max_output_bytes - output.size()) {
        return TooLargeError(name(), max_output_bytes);
      }
      output.append(reinterpret_cast<const char*>(chunk.get()), produced);
      switch (result) {
        case BROTLI_DECODER_RESULT_SUCCESS:
          if (available_in != 0) {
            return CorruptError(
                name(), absl::StrCat(available_in,
                                     " bytes of trailing data after the "
                                     "brotli stream"));
          }
          return output;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
          // The decoder only asks for more room once it has filled what it
          // had; guard against looping forever if it ever did not.
          if (produced == 0) {
            return InternalError(name(), "the decoder made no progress");
          }
          break;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
          // All the input was given at once, so the stream is cut short.
          return CorruptError(name(), "truncated brotli stream");
        case BROTLI_DECODER_RESULT_ERROR:
        default: {
          BrotliDecoderErrorCode code =
              BrotliDecoderGetErrorCode(decoder.get());
          // -1 to -16 are format errors; the rest (a missing built-in
          // dictionary, bad arguments, allocation failures, "unreachable")
          // are not the data's fault.
          if (code < BROTLI_DECODER_ERROR_FORMAT_DISTANCE) {
            return InternalError(name(), BrotliDecoderErrorString(code));
          }
          return CorruptError(name(),
                              absl::StrCat("invalid brotli data: ",
                                           BrotliDecoderErrorString(code)));
        }
      }
    }
  }
};

}  // namespace

const CompressionCodec& BrotliCodec() {
  static const BrotliCodecImpl* const codec = new BrotliCodecImpl();
  return *codec;
}

}  // namespace compression_internal
}  // namespace asap
