// The gzip codec (RFC 1952) on zlib.
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asap/compression/codec.h"
#include "asap/compression/internal/codec_internal.h"

namespace asap {
namespace compression_internal {
namespace {

// zlib's own default, and what `gzip` uses.
constexpr int kDefaultLevel = 6;
constexpr int kMinLevel = 1;
constexpr int kMaxLevel = 9;

// windowBits for deflateInit2/inflateInit2: a 32 KiB window (15) plus 16 for
// the gzip wrapper (header, CRC-32 and length trailer) instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
// deflateInit2's default memLevel.
constexpr int kMemLevel = 8;

// The two magic bytes every gzip member starts with.
constexpr absl::string_view kGzipMagic = "\x1f\x8b";

// Feeds zlib the input in pieces its 32-bit avail_in can hold.
class InputFeeder {
 public:
  explicit InputFeeder(absl::string_view input) : rest_(input) {}

  // Gives `stream` the next piece of input once it has used up the last one.
  void Refill(z_stream& stream) {
    if (stream.avail_in != 0 || rest_.empty()) return;
    size_t piece = std::min<size_t>(rest_.size(), UINT_MAX);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest_.data()));
    stream.avail_in = static_cast<uInt>(piece);
    rest_.remove_prefix(piece);
  }

  // Whether all the input is consumed, counting what `stream` still holds.
  bool Exhausted(const z_stream& stream) const {
    return stream.avail_in == 0 && rest_.empty();
  }

  // The input not yet consumed, counting what `stream` still holds.
  absl::string_view Unconsumed(const z_stream& stream,
                               absl::string_view input) const {
    return input.substr(input.size() - rest_.size() - stream.avail_in);
  }

  // Whether all the input has been handed to zlib.
  bool AllHandedOver() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

class GzipCodecImpl final : public CompressionCodec {
 public:
  absl::string_view name() const override { return kGzipEncoding; }

  absl::StatusOr<std::string> Compress(absl::string_view input,
                                       int level) const override {
    if (level == -1) level = kDefaultLevel;
    if (level < kMinLevel || level > kMaxLevel) {
      return InternalError(name(),
                           absl::StrCat("compression level ", level,
                                        " is out of range (1 to 9, or -1 for ",
                                        kDefaultLevel, ")"));
    }
    z_stream stream = {};  // zalloc, zfree, opaque: Z_NULL, zlib's allocator.
    int rc = deflateInit2(&stream, level, Z_DEFLATED, kGzipWindowBits,
                          kMemLevel, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
      return InternalError(name(),
                           absl::StrCat("deflateInit2 failed with code ", rc));
    }
    absl::Cleanup end_stream = [&stream] { deflateEnd(&stream); };

    std::unique_ptr<Bytef[]> chunk(new Bytef[kChunkBytes]);  // Uninitialized.
    InputFeeder feeder(input);
    std::string output;
    do {
      feeder.Refill(stream);
      stream.next_out = chunk.get();
      stream.avail_out = kChunkBytes;
      rc = deflate(&stream, feeder.AllHandedOver() ? Z_FINISH : Z_NO_FLUSH);
      // With fresh output space every call, deflate always makes progress;
      // Z_BUF_ERROR would only mean "nothing to do" and is not fatal.
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        return InternalError(name(),
                             absl::StrCat("deflate failed with code ", rc));
      }
      output.append(reinterpret_cast<const char*>(chunk.get()),
                    kChunkBytes - stream.avail_out);
    } while (rc != Z_STREAM_END);
    return output;
  }

  absl::StatusOr<std::string> Decompress(
      absl::string_view input, size_t max_output_bytes) const override {
    if (input.empty()) return CorruptError(name(), "empty input");
    z_stream stream = {};
    int rc = inflateInit2(&stream, kGzipWindowBits);
    if (rc != Z_OK) {
      return InternalError(name(),
                           absl::StrCat("inflateInit2 failed with code ", rc));
    }
    absl::Cleanup end_stream = [&stream] { inflateEnd(&stream); };

    std::unique_ptr<Bytef[]> chunk(new Bytef[kChunkBytes]);  // Uninitialized.
    InputFeeder feeder(input);
    std::string output;
    while (true) {
      feeder.Refill(stream);
      // Never let inflate write more than one byte past the limit.
      size_t want = NextChunkBytes(output.size(), max_output_bytes);
      stream.next_out = chunk.get();
      stream.avail_out = static_cast<uInt>(want);
      rc = inflate(&stream, Z_NO_FLUSH);
      size_t produced = want - stream.avail_out;
      if (produced > max_output_bytes - output.size()) {
        return TooLargeError(name(), max_output_bytes);
      }
      output.append(reinterpret_cast<const char*>(chunk.get()), produced);
      switch (rc) {
        case Z_OK:
          break;
        case Z_STREAM_END: {
          if (feeder.Exhausted(stream)) return output;
          // RFC 1952 allows several members one after another; anything else
          // after a member is trailing garbage.
          absl::string_view rest = feeder.Unconsumed(stream, input);
          if (!absl::StartsWith(rest, kGzipMagic)) {
            return CorruptError(
                name(), absl::StrCat(rest.size(),
                                     " bytes of trailing data after the "
                                     "gzip stream"));
          }
          rc = inflateReset(&stream);  // Keeps next_in and avail_in.
          if (rc != Z_OK) {
            return InternalError(
                name(), absl::StrCat("inflateReset failed with code ", rc));
          }
          break;
        }
        case Z_BUF_ERROR:
          // No progress possible although there is room for output: inflate
          // needs input that is not there.
          if (feeder.Exhausted(stream)) {
            return CorruptError(name(), "truncated gzip stream");
          }
          return InternalError(name(), "inflate made no progress");
        case Z_NEED_DICT:
          return CorruptError(name(), "the stream needs a preset dictionary");
        case Z_DATA_ERROR:
          return CorruptError(
              name(), absl::StrCat("invalid gzip data: ",
                                   stream.msg != nullptr ? stream.msg
                                                         : "unknown error"));
        case Z_MEM_ERROR:
          return InternalError(name(), "out of memory");
        default:
          return InternalError(name(),
                               absl::StrCat("inflate failed with code ", rc));
      }
    }
  }
};

}  // namespace

const CompressionCodec& GzipCodec() {
  static const GzipCodecImpl* const codec = new GzipCodecImpl();
  return *codec;
}

}  // namespace compression_internal
}  // namespace asap
