// CompressionOptions: how AsapClient compresses Send bodies
// (ClientOptions::compression; docs/COMPRESSION.md).
//
//   asap::ClientOptions options;
//   options.compression.algorithm = asap::Compression::kGzip;
//   options.compression.accept_encoding = {asap::Compression::kGzip};
//
//   // From a command-line flag or a configuration file:
//   absl::StatusOr<asap::Compression> algorithm =
//       asap::ParseCompression(flag_value);  // "none", "gzip", "br"
//   if (!algorithm.ok()) return algorithm.status();  // names the valid values
//   options.compression.algorithm = *algorithm;
#ifndef ASAP_CLIENT_COMPRESSION_OPTIONS_H_
#define ASAP_CLIENT_COMPRESSION_OPTIONS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace asap {

// A body encoding the client can use.
enum class Compression {
  kNone,    // no compression ("identity" on the wire)
  kGzip,    // gzip, RFC 1952 ("gzip")
  kBrotli,  // brotli, RFC 7932 ("br")
};

// The wire token of `compression`: "identity", "gzip" or "br" (what
// Content-Encoding, CompressedEnvelope.encoding and accept lists carry).
// "unknown" for a value outside the enum.
absl::string_view CompressionName(Compression compression);

// Parses a compression name as a user writes it: "none" or "identity",
// "gzip", "br" (ASCII case and surrounding whitespace ignored), so that
// ParseCompression(CompressionName(c)) == c. Any other name is
// InvalidArgument, with a message that lists the valid names.
absl::StatusOr<Compression> ParseCompression(absl::string_view name);

// `accepted` as an accept list, in its order: {kBrotli, kGzip} is
// "br, gzip". kNone entries are left out (identity is always acceptable), so
// an empty list, or one of kNone only, is "".
std::string AcceptEncodingList(absl::Span<const Compression> accepted);

// Compression of Send bodies (docs/COMPRESSION.md). Bodies of at least
// `threshold_bytes` go through SendCompressed, encoded with `algorithm`, once
// the target has advertised that it decodes it (initial metadata
// `asap-accept-encoding` on any earlier response; if it advertises only
// another encoding, that one is used). Responses come back in the first
// encoding of `accept_encoding` the server supports. Smaller bodies, bodies
// to a target that has advertised nothing yet (so the first call always), and
// algorithm kNone use plain Send.
struct CompressionOptions {
  // kBrotli (the default), kGzip or kNone. kNone also stops the server from
  // compressing plain responses with gRPC's gzip, and asks for identity
  // answers whatever `accept_encoding` says.
  Compression algorithm = Compression::kBrotli;
  // Smallest serialized envelope that is compressed (docs/COMPRESSION.md).
  size_t threshold_bytes = 1024;
  // The algorithm's own level: brotli quality 0-11, gzip level 1-9; -1 = the
  // codec's default (brotli 5, gzip 6).
  int level = -1;
  // Encodings accepted for responses, in preference order; empty = identity
  // only.
  std::vector<Compression> accept_encoding = {Compression::kBrotli,
                                              Compression::kGzip};
};

}  // namespace asap

#endif  // ASAP_CLIENT_COMPRESSION_OPTIONS_H_
