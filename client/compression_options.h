// CompressionOptions: how AsapClient compresses Send bodies
// (ClientOptions::compression; docs/COMPRESSION.md).
#ifndef ASAP_CLIENT_COMPRESSION_OPTIONS_H_
#define ASAP_CLIENT_COMPRESSION_OPTIONS_H_

#include <cstddef>
#include <string>

namespace asap {

// Compression of Send bodies (docs/COMPRESSION.md). Bodies of at least
// `threshold_bytes` go through SendCompressed, encoded with `algorithm`, once
// the target has advertised that it decodes it (initial metadata
// `asap-accept-encoding` on any earlier response; if it advertises only
// another encoding, that one is used). Responses come back in the first
// encoding of `accept_encoding` the server supports. Smaller bodies, bodies
// to a target that has advertised nothing yet (so the first call always), and
// algorithm "none" use plain Send.
struct CompressionOptions {
  // "br" (brotli, the default), "gzip" or "none". "none" also stops the
  // server from compressing plain responses with gRPC's gzip.
  std::string algorithm = "br";
  // Smallest serialized envelope that is compressed (docs/COMPRESSION.md).
  size_t threshold_bytes = 1024;
  // The algorithm's own level: brotli quality 0-11, gzip level 1-9; -1 = the
  // codec's default (brotli 5, gzip 6).
  int level = -1;
  // Encodings accepted for responses, in preference order; "" = identity.
  std::string accept_encoding = "br, gzip";
};

}  // namespace asap

#endif  // ASAP_CLIENT_COMPRESSION_OPTIONS_H_
