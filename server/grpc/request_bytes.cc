#include "server/grpc/request_bytes.h"

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

#include "absl/strings/str_cat.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"

namespace grpc {
namespace internal {

// gRPC's own test peer of ByteBuffer (a friend of the class): the only way
// to see a received message's compression algorithm, which the C++ API does
// not expose. Nothing else in asap uses it.
class GrpcByteBufferPeer {
 public:
  explicit GrpcByteBufferPeer(ByteBuffer* buffer) : buffer_(buffer) {}
  grpc_byte_buffer* c_buffer() { return buffer_->c_buffer(); }

 private:
  ByteBuffer* buffer_;
};

}  // namespace internal
}  // namespace grpc

namespace asap {
namespace {

grpc_byte_buffer* RawBuffer(const grpc::ByteBuffer& buffer) {
  grpc::internal::GrpcByteBufferPeer peer(
      const_cast<grpc::ByteBuffer*>(&buffer));
  return peer.c_buffer();
}

absl::Status TooLarge(size_t size, size_t limit, absl::string_view what) {
  return AsapError(
      ErrorCode::kPayloadTooLarge,
      absl::StrCat(what, " of ", size, " bytes exceeds the limit of ", limit));
}

}  // namespace

size_t WireSize(const grpc::ByteBuffer& buffer) {
  grpc_byte_buffer* raw = RawBuffer(buffer);
  return raw == nullptr ? 0 : grpc_byte_buffer_length(raw);
}

bool IsGrpcCompressed(const grpc::ByteBuffer& buffer) {
  grpc_byte_buffer* raw = RawBuffer(buffer);
  return raw != nullptr && raw->type == GRPC_BB_RAW &&
         raw->data.raw.compression != GRPC_COMPRESS_NONE;
}

absl::StatusOr<std::string> ReadRequestBytes(const grpc::ByteBuffer& buffer,
                                             size_t max_bytes) {
  grpc_byte_buffer* raw = RawBuffer(buffer);
  if (raw == nullptr) return std::string();
  if (raw->type != GRPC_BB_RAW) {
    return AsapError(ErrorCode::kInternal, "unexpected gRPC buffer type");
  }
  const grpc_slice_buffer& slices = raw->data.raw.slice_buffer;
  if (slices.length > max_bytes) {
    return TooLarge(slices.length, max_bytes, "a message");
  }
  std::string bytes;
  bytes.reserve(slices.length);
  for (size_t i = 0; i < slices.count; ++i) {
    bytes.append(
        reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slices.slices[i])),
        GRPC_SLICE_LENGTH(slices.slices[i]));
  }
  switch (raw->data.raw.compression) {
    case GRPC_COMPRESS_NONE:
      return bytes;
    case GRPC_COMPRESS_GZIP: {
      absl::StatusOr<const CompressionCodec*> gzip = FindCodec(kGzipEncoding);
      if (!gzip.ok()) return gzip.status();
      return (*gzip)->Decompress(bytes, max_bytes);
    }
    default:
      // The server enables only gzip, so gRPC refuses other algorithms
      // before the message reaches asap.
      return AsapError(ErrorCode::kUnsupportedEncoding,
                       "grpc-encoding other than gzip or identity");
  }
}

}  // namespace asap
