#include "tests/fuzz/codec_fuzz.h"

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"
#include "tests/fuzz/fuzz_check.h"

namespace asap::fuzz {
namespace {

// Small enough that a decompression bomb in the corpus costs milliseconds,
// large enough for every real envelope in the fixtures.
constexpr size_t kMaxDecompressedBytes = 1024 * 1024;

std::string CodeName(const absl::Status& status) {
  std::optional<ErrorCode> code = ErrorCodeOf(status);
  return code.has_value() ? std::string(ErrorCodeName(*code)) : "(none)";
}

}  // namespace

void FuzzCodec(absl::string_view name, const uint8_t* data, size_t size) {
  absl::StatusOr<const CompressionCodec*> found = FindCodec(name);
  FUZZ_CHECK(found.ok(), "no codec %s", std::string(name).c_str());
  const CompressionCodec& codec = **found;
  absl::string_view input(reinterpret_cast<const char*>(data), size);

  // Untrusted bytes: data within the limit, or one of the two documented
  // errors, nothing else (codec.h).
  absl::StatusOr<std::string> restored =
      codec.Decompress(input, kMaxDecompressedBytes);
  if (restored.ok()) {
    FUZZ_CHECK(restored->size() <= kMaxDecompressedBytes, "%zu bytes",
               restored->size());
  } else {
    std::optional<ErrorCode> code = ErrorCodeOf(restored.status());
    FUZZ_CHECK(
        code == ErrorCode::kCorruptBody || code == ErrorCode::kPayloadTooLarge,
        "%s: %s", CodeName(restored.status()).c_str(),
        std::string(restored.status().message()).c_str());
  }

  // The input as plain data: compresses, and comes back exactly, within a
  // limit of exactly its size but not one byte less.
  absl::StatusOr<std::string> compressed = codec.Compress(input);
  FUZZ_CHECK(compressed.ok(), "%s",
             std::string(compressed.status().message()).c_str());
  absl::StatusOr<std::string> round_trip = codec.Decompress(*compressed, size);
  FUZZ_CHECK(round_trip.ok(), "%s",
             std::string(round_trip.status().message()).c_str());
  FUZZ_CHECK(*round_trip == input, "round trip changed %zu bytes", size);
  if (size > 0) {
    absl::StatusOr<std::string> too_large =
        codec.Decompress(*compressed, size - 1);
    FUZZ_CHECK(ErrorCodeOf(too_large.status()) == ErrorCode::kPayloadTooLarge,
               "limit %zu: %s", size - 1, CodeName(too_large.status()).c_str());
  }
}

}  // namespace asap::fuzz
