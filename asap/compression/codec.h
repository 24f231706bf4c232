// Message body compression: one codec interface with gzip and brotli behind it.
//
// Peers name an encoding on the wire with one of three names: "identity" (no
// compression), "gzip" (RFC 1952, zlib) and "br" (RFC 7932, brotli). A sender
// picks the encoding with NegotiateEncoding() from the list the peer accepts,
// looks the codec up with FindCodec() and compresses; a receiver looks up the
// codec the sender named and decompresses with a size limit, so a small
// "decompression bomb" can never grow into a large allocation.
//
// Example:
//
//   // Sender: the peer said it accepts "gzip, br".
//   std::string encoding = asap::NegotiateEncoding("gzip, br");  // "br"
//   std::string body = json;
//   if (encoding != asap::kIdentityEncoding) {
//     ASAP_ASSIGN_OR_RETURN(const asap::CompressionCodec* codec,
//                           asap::FindCodec(encoding));
//     ASAP_ASSIGN_OR_RETURN(body, codec->Compress(json));
//   }
//
//   // Receiver: the sender said the body is "br".
//   ASAP_ASSIGN_OR_RETURN(const asap::CompressionCodec* codec,
//                         asap::FindCodec("br"));
//   ASAP_ASSIGN_OR_RETURN(
//       std::string json,
//       codec->Decompress(body, asap::kDefaultMaxDecompressedBytes));
//
// Errors are asap::AsapError statuses (asap/errors.h), so callers branch on
// asap::ErrorCodeOf(status):
//
//   * kPayloadTooLarge: the decompressed data is larger than the limit;
//   * kCorruptBody: the data does not decompress (not the format, damaged,
//     truncated, or followed by trailing bytes);
//   * kUnsupportedEncoding: an encoding name this build does not know;
//   * kInternal: a caller bug (a compression level out of range) or a library
//     failure (out of memory).
//
// Thread safety: codecs hold no state. FindCodec() returns pointers to
// immutable function-local statics that any number of threads may use at once.
#ifndef ASAP_COMPRESSION_CODEC_H_
#define ASAP_COMPRESSION_CODEC_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace asap {

// The wire name for "no compression". It is not a codec: FindCodec() rejects
// it, and callers send or read the body as it is.
inline constexpr absl::string_view kIdentityEncoding = "identity";

// The wire name of the gzip codec (RFC 1952).
inline constexpr absl::string_view kGzipEncoding = "gzip";

// The wire name of the brotli codec (RFC 7932).
inline constexpr absl::string_view kBrotliEncoding = "br";

// The metadata key in which asap peers list the encodings they decode, in
// their order of preference ("br, gzip"): a server in the initial metadata of
// every AsapService response, a client in the request metadata of SendBatch
// (for result frames).
inline constexpr char kAcceptEncodingMetadataKey[] = "asap-accept-encoding";

// The level both ends use for SendBatch frames (brotli quality 1, gzip level
// 1): a stream of frames is throughput-bound, and at the default levels
// compressing took longer than sending 60 KB frames over loopback (measured:
// SendBatch(100) fell from ~70k to ~34k envelopes/s), while level 1 keeps
// most of the ratio on JSON-like text.
inline constexpr int kStreamCompressionLevel = 1;

// The default limit on a decompressed body: 10 MiB, the server's message limit.
inline constexpr size_t kDefaultMaxDecompressedBytes = 10 * 1024 * 1024;

// A compression algorithm. Implementations are stateless and immutable; get
// them from FindCodec().
class CompressionCodec {
 public:
  virtual ~CompressionCodec() = default;

  // The wire name of this codec: "gzip" or "br".
  virtual absl::string_view name() const = 0;

  // Compresses `input` (which may be empty) into one complete stream.
  //
  // `level` is the algorithm's own scale: gzip 1 (fastest) to 9 (smallest),
  // brotli quality 0 to 11. -1 selects the codec's default: gzip 6, brotli 5
  // (see brotli_codec.cc for why 5).
  //
  // Returns kInternal when `level` is out of range or the library fails (for
  // example out of memory).
  virtual absl::StatusOr<std::string> Compress(absl::string_view input,
                                               int level = -1) const = 0;

  // Decompresses one complete stream `input` (gzip also accepts several
  // concatenated members, as RFC 1952 allows).
  //
  // Returns kPayloadTooLarge as soon as the output grows past
  // `max_output_bytes` (output of exactly `max_output_bytes` is fine); the
  // output is produced in 64 KiB chunks and never more than one byte past the
  // limit, so memory stays within about twice the limit (string growth) however
  // large the data would expand. Returns kCorruptBody when
  // `input` is not a valid stream: not the format, damaged (gzip checks a
  // CRC-32; brotli has no checksum, so some damage decodes to wrong data),
  // truncated, empty, or followed by trailing bytes. Returns kInternal when the
  // library fails (out of memory). Never crashes on any input.
  virtual absl::StatusOr<std::string> Decompress(
      absl::string_view input, size_t max_output_bytes) const = 0;
};

// Returns the codec for the wire name `name` ("gzip" or "br"; ASCII case and
// surrounding whitespace are ignored). The pointer refers to an immutable
// static and is never null.
//
// Returns kUnsupportedEncoding, with a message that lists the supported
// encodings, for any other name, including "identity" (which is no codec).
absl::StatusOr<const CompressionCodec*> FindCodec(absl::string_view name);

// Returns the wire names of the supported codecs in this side's order of
// preference: {"br", "gzip"}. The views refer to static storage.
absl::Span<const absl::string_view> SupportedEncodings();

// Chooses the encoding for a message to a peer that accepts `accept_list`, a
// comma-separated list of encoding names such as "br, gzip" (the value of an
// accept-encoding header).
//
// Names are matched case-insensitively with surrounding whitespace ignored;
// parameters after ';' are ignored, except that "q=0" marks the name as not
// acceptable (as in HTTP). Unknown names, "identity" and empty entries are
// ignored. The peer's order does not matter: the result is the first of
// SupportedEncodings() that the peer accepts, or "identity" when there is none.
// Never fails.
std::string NegotiateEncoding(absl::string_view accept_list);

}  // namespace asap

#endif  // ASAP_COMPRESSION_CODEC_H_
