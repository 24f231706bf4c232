#include "asap/compression/codec.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr size_t kMiB = 1024 * 1024;

// A small deterministic PRNG (splitmix64), the same on every platform.
class Prng {
 public:
  explicit Prng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform enough in [0, n) for test data.
  int Below(int n) {
    return static_cast<int>(Next() % static_cast<uint64_t>(n));
  }

 private:
  uint64_t state_;
};

// `size` bytes of JSON-like task records with random ids, agents, states,
// numbers, timestamps, tags and text: varied, not one repeated string.
std::string VariedJson(size_t size, uint64_t seed) {
  static constexpr const char* kWords[] = {
      "alpha",    "bravo",   "charlie",   "delta",   "echo",    "planner",
      "executor", "summary", "translate", "report",  "weather", "invoice",
      "customer", "order",   "status",    "pending", "agent",   "task",
      "message",  "payload", "result",    "error",   "retry",   "timeout",
      "search",   "query",   "document",  "section", "budget",  "forecast",
      "the",      "of",      "and",       "to",      "in",      "is",
      "for",      "with",    "on",        "that",    "by",      "from"};
  static constexpr const char* kStates[] = {"submitted",      "working",
                                            "input_required", "completed",
                                            "failed",         "cancelled"};
  constexpr int kWordCount = sizeof(kWords) / sizeof(kWords[0]);
  constexpr int kStateCount = sizeof(kStates) / sizeof(kStates[0]);
  Prng prng(seed);
  std::string out = "[";
  while (out.size() < size) {
    absl::StrAppendFormat(
        &out,
        "{\"id\":\"task-%08x\",\"sender\":\"urn:asap:agent:%s-%d\","
        "\"recipient\":\"urn:asap:agent:%s-%d\",\"state\":\"%s\","
        "\"priority\":%d,\"score\":%.4f,"
        "\"created_at\":\"2024-%02d-%02dT%02d:%02d:%02dZ\",\"tags\":[",
        static_cast<uint32_t>(prng.Next()), kWords[prng.Below(kWordCount)],
        prng.Below(100), kWords[prng.Below(kWordCount)], prng.Below(100),
        kStates[prng.Below(kStateCount)], prng.Below(10),
        prng.Below(10000) / 10000.0, 1 + prng.Below(12), 1 + prng.Below(28),
        prng.Below(24), prng.Below(60), prng.Below(60));
    int tags = prng.Below(4);
    for (int i = 0; i < tags; ++i) {
      absl::StrAppend(&out, i > 0 ? "," : "", "\"",
                      kWords[prng.Below(kWordCount)], "\"");
    }
    out += "],\"text\":\"";
    int words = 5 + prng.Below(25);
    for (int i = 0; i < words; ++i) {
      absl::StrAppend(&out, i > 0 ? " " : "", kWords[prng.Below(kWordCount)]);
    }
    out += "\"},\n";
  }
  out.resize(size);
  return out;
}

// `size` uniformly random bytes.
std::string RandomBytes(size_t size, uint64_t seed) {
  Prng prng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(prng.Next());
  return out;
}

const CompressionCodec& Codec(absl::string_view name) {
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(name);
  EXPECT_TRUE(codec.ok()) << codec.status();
  return **codec;
}

std::string CompressOrDie(const CompressionCodec& codec,
                          absl::string_view input, int level = -1) {
  absl::StatusOr<std::string> compressed = codec.Compress(input, level);
  EXPECT_TRUE(compressed.ok()) << compressed.status();
  return compressed.ok() ? *std::move(compressed) : std::string();
}

// The ASAP code of a failed result, nullopt for a success.
template <typename T>
std::optional<ErrorCode> CodeOf(const absl::StatusOr<T>& result) {
  return ErrorCodeOf(result.status());
}

// ---------------------------------------------------------------------------
// Behaviour shared by both codecs.

struct CodecParam {
  absl::string_view name;
  int min_level;
  int max_level;
};

class CodecTest : public ::testing::TestWithParam<CodecParam> {
 protected:
  const CompressionCodec& codec() const { return Codec(GetParam().name); }

  // Compresses `input` with the default level and checks that it decompresses
  // to `input` again.
  void ExpectRoundTrip(absl::string_view input) const {
    std::string compressed = CompressOrDie(codec(), input);
    absl::StatusOr<std::string> restored =
        codec().Decompress(compressed, kDefaultMaxDecompressedBytes);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_TRUE(*restored == input) << "round trip changed the data";
  }
};

TEST_P(CodecTest, NameIsTheWireName) {
  EXPECT_EQ(codec().name(), GetParam().name);
}

TEST_P(CodecTest, RoundTripsEmptyInput) { ExpectRoundTrip(""); }

TEST_P(CodecTest, RoundTripsSmallText) {
  ExpectRoundTrip("{\"hello\":\"asap\"}");
}

TEST_P(CodecTest, RoundTripsOneMebibyteOfVariedJson) {
  ExpectRoundTrip(VariedJson(kMiB, 1));
}

TEST_P(CodecTest, RoundTripsRandomBinaryData) {
  ExpectRoundTrip(RandomBytes(256 * 1024, 2));
}

TEST_P(CodecTest, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int repeat = 0; repeat < 4; ++repeat) {
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  }
  ExpectRoundTrip(bytes);
}

TEST_P(CodecTest, RoundTripsAtEveryLevel) {
  std::string json = VariedJson(16 * 1024, 3);
  for (int level = GetParam().min_level; level <= GetParam().max_level;
       ++level) {
    std::string compressed = CompressOrDie(codec(), json, level);
    absl::StatusOr<std::string> restored =
        codec().Decompress(compressed, kDefaultMaxDecompressedBytes);
    ASSERT_TRUE(restored.ok())
        << "level " << level << ": " << restored.status();
    EXPECT_TRUE(*restored == json) << "level " << level;
  }
}

TEST_P(CodecTest, RejectsLevelsOutOfRange) {
  // -1 is the default, so brotli has no "minimum - 1" to test.
  for (int level : {GetParam().min_level == 0 ? -2 : GetParam().min_level - 1,
                    GetParam().max_level + 1, -2, 100}) {
    EXPECT_EQ(CodeOf(codec().Compress("data", level)), ErrorCode::kInternal)
        << "level " << level;
  }
}

TEST_P(CodecTest, CompressesVariedJsonByAtLeastSeventyPercent) {
  std::string json = VariedJson(kMiB, 4);
  std::string compressed = CompressOrDie(codec(), json);
  EXPECT_LE(compressed.size(), json.size() * 3 / 10)
      << "compressed to " << compressed.size() << " bytes";
}

TEST_P(CodecTest, RejectsDecompressionBombOverTheLimit) {
  // 50 MiB of zeros compress to a few tens of KiB at most.
  std::string bomb = CompressOrDie(codec(), std::string(50 * kMiB, '\0'));
  ASSERT_LT(bomb.size(), 1 * kMiB);
  // Decompression stops at the limit instead of producing the 50 MiB.
  EXPECT_EQ(CodeOf(codec().Decompress(bomb, kDefaultMaxDecompressedBytes)),
            ErrorCode::kPayloadTooLarge);
}

TEST_P(CodecTest, AllowsOutputExactlyAtTheLimit) {
  // Sizes around the 64 KiB chunks the decoders write in.
  for (size_t size : {size_t{1}, size_t{65535}, size_t{65536}, size_t{65537},
                      size_t{3 * 65536}, kMiB}) {
    std::string json = VariedJson(size, 5);
    absl::StatusOr<std::string> restored =
        codec().Decompress(CompressOrDie(codec(), json), size);
    ASSERT_TRUE(restored.ok()) << "size " << size << ": " << restored.status();
    EXPECT_EQ(restored->size(), size);
  }
}

TEST_P(CodecTest, RejectsOutputOneByteOverTheLimit) {
  for (size_t size : {size_t{1}, size_t{65535}, size_t{65536}, size_t{65537},
                      size_t{3 * 65536}, kMiB}) {
    std::string json = VariedJson(size, 5);
    EXPECT_EQ(
        CodeOf(codec().Decompress(CompressOrDie(codec(), json), size - 1)),
        ErrorCode::kPayloadTooLarge)
        << "size " << size;
  }
}

TEST_P(CodecTest, AllowsEmptyOutputWithZeroLimit) {
  absl::StatusOr<std::string> restored =
      codec().Decompress(CompressOrDie(codec(), ""), 0);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, "");
}

TEST_P(CodecTest, RejectsEmptyInputAsCorrupt) {
  EXPECT_EQ(CodeOf(codec().Decompress("", kDefaultMaxDecompressedBytes)),
            ErrorCode::kCorruptBody);
}

TEST_P(CodecTest, RejectsRandomBytesAsCorrupt) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    std::string noise = RandomBytes(1 + seed * 37, seed);
    EXPECT_EQ(CodeOf(codec().Decompress(noise, kDefaultMaxDecompressedBytes)),
              ErrorCode::kCorruptBody)
        << "seed " << seed;
  }
}

TEST_P(CodecTest, RejectsEveryTruncationAsCorrupt) {
  std::string compressed = CompressOrDie(codec(), VariedJson(4096, 6));
  for (size_t length = 1; length < compressed.size(); ++length) {
    EXPECT_EQ(CodeOf(codec().Decompress(compressed.substr(0, length),
                                        kDefaultMaxDecompressedBytes)),
              ErrorCode::kCorruptBody)
        << "cut to " << length << " of " << compressed.size() << " bytes";
  }
}

TEST_P(CodecTest, RejectsTrailingGarbageAsCorrupt) {
  std::string compressed = CompressOrDie(codec(), VariedJson(4096, 7));
  for (absl::string_view garbage :
       {absl::string_view("x"), absl::string_view("\0", 1),
        absl::string_view("trailing garbage")}) {
    EXPECT_EQ(CodeOf(codec().Decompress(absl::StrCat(compressed, garbage),
                                        kDefaultMaxDecompressedBytes)),
              ErrorCode::kCorruptBody)
        << "garbage \"" << garbage << "\"";
  }
}

TEST_P(CodecTest, FlippedBytesYieldDataOrCorruptBodyNeverAnotherError) {
  // Every single-byte corruption of a stream either still decodes (brotli has
  // no checksum; gzip ignores some header fields) or is kCorruptBody; nothing
  // crashes (the sanitizer-free version of a fuzz test).
  std::string compressed = CompressOrDie(codec(), VariedJson(4096, 8));
  for (size_t i = 0; i < compressed.size(); ++i) {
    for (int mask : {0x01, 0x80, 0xff}) {
      std::string damaged = compressed;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      absl::StatusOr<std::string> result =
          codec().Decompress(damaged, kDefaultMaxDecompressedBytes);
      if (!result.ok()) {
        EXPECT_EQ(CodeOf(result), ErrorCode::kCorruptBody)
            << "byte " << i << " ^ " << mask << ": " << result.status();
      }
    }
  }
}

TEST_P(CodecTest, IsSafeToUseFromManyThreads) {
  std::string json = VariedJson(64 * 1024, 9);
  std::vector<std::thread> threads;
  // One separate bool per thread: std::vector<bool> packs its elements into
  // shared words, so writes to different elements from different threads race.
  std::array<bool, 4> round_tripped = {};
  for (size_t t = 0; t < round_tripped.size(); ++t) {
    threads.emplace_back([&, t] {
      bool all_ok = true;
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<std::string> compressed = codec().Compress(json);
        absl::StatusOr<std::string> restored =
            compressed.ok() ? codec().Decompress(*compressed, kMiB)
                            : compressed.status();
        all_ok = all_ok && restored.ok() && *restored == json;
      }
      round_tripped[t] = all_ok;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(round_tripped, ElementsAre(true, true, true, true));
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest,
                         ::testing::Values(CodecParam{"gzip", 1, 9},
                                           CodecParam{"br", 0, 11}),
                         [](const ::testing::TestParamInfo<CodecParam>& info) {
                           return std::string(info.param.name);
                         });

// ---------------------------------------------------------------------------
// gzip.

// `printf 'hello, asap\n' | gzip -n -9`
constexpr unsigned char kGzipToolOutput[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb,
    0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x48, 0x2c, 0x4e, 0x2c, 0xe0,
    0x02, 0x00, 0x14, 0xf4, 0xd9, 0x58, 0x0c, 0x00, 0x00, 0x00};

// `gzip -9 -c msg.json` of '{"hello":"asap"}\n': the header carries a file
// name and a modification time.
constexpr unsigned char kGzipToolOutputWithName[] = {
    0x1f, 0x8b, 0x08, 0x08, 0x25, 0x7d, 0x93, 0x65, 0x02, 0x03, 0x6d, 0x73,
    0x67, 0x2e, 0x6a, 0x73, 0x6f, 0x6e, 0x00, 0xab, 0x56, 0xca, 0x48, 0xcd,
    0xc9, 0xc9, 0x57, 0xb2, 0x52, 0x4a, 0x2c, 0x4e, 0x2c, 0x50, 0xaa, 0xe5,
    0x02, 0x00, 0xc6, 0x7b, 0xc9, 0x12, 0x11, 0x00, 0x00, 0x00};

template <size_t N>
absl::string_view Bytes(const unsigned char (&bytes)[N]) {
  return absl::string_view(reinterpret_cast<const char*>(bytes), N);
}

TEST(GzipCodecTest, OutputStartsWithGzipMagicAndDeflateMethod) {
  std::string compressed = CompressOrDie(Codec("gzip"), "hello");
  ASSERT_GE(compressed.size(), 3u);
  EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
  EXPECT_EQ(static_cast<unsigned char>(compressed[2]), 0x08);  // deflate
}

TEST(GzipCodecTest, DecompressesOutputOfTheGzipTool) {
  absl::StatusOr<std::string> restored = Codec("gzip").Decompress(
      Bytes(kGzipToolOutput), kDefaultMaxDecompressedBytes);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, "hello, asap\n");
}

TEST(GzipCodecTest, DecompressesHeaderWithFileName) {
  absl::StatusOr<std::string> restored = Codec("gzip").Decompress(
      Bytes(kGzipToolOutputWithName), kDefaultMaxDecompressedBytes);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, "{\"hello\":\"asap\"}\n");
}

TEST(GzipCodecTest, DecompressesConcatenatedMembers) {
  const CompressionCodec& gzip = Codec("gzip");
  std::string members =
      absl::StrCat(CompressOrDie(gzip, "first, "), CompressOrDie(gzip, ""),
                   CompressOrDie(gzip, "second"));
  absl::StatusOr<std::string> restored =
      gzip.Decompress(members, kDefaultMaxDecompressedBytes);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, "first, second");
}

TEST(GzipCodecTest, AppliesTheLimitAcrossConcatenatedMembers) {
  const CompressionCodec& gzip = Codec("gzip");
  std::string members =
      absl::StrCat(CompressOrDie(gzip, "12345"), CompressOrDie(gzip, "67890"));
  EXPECT_EQ(CodeOf(gzip.Decompress(members, 9)), ErrorCode::kPayloadTooLarge);
}

TEST(GzipCodecTest, RejectsEveryFlippedByteInBodyAndTrailerAsCorrupt) {
  // Past the 10-byte header, the CRC-32 and length trailer catch any damage
  // to a bit inflate reads. (The unused high bits that pad the last deflate
  // byte are not read, so the masks all include the lowest bit, which deflate
  // fills first.)
  const CompressionCodec& gzip = Codec("gzip");
  std::string compressed = CompressOrDie(gzip, VariedJson(4096, 10));
  for (size_t i = 10; i < compressed.size(); ++i) {
    for (int mask : {0x01, 0x0f, 0xff}) {
      std::string damaged = compressed;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      EXPECT_EQ(CodeOf(gzip.Decompress(damaged, kDefaultMaxDecompressedBytes)),
                ErrorCode::kCorruptBody)
          << "byte " << i << " ^ " << mask;
    }
  }
}

TEST(GzipCodecTest, RejectsWrongMagicAsCorrupt) {
  std::string compressed = CompressOrDie(Codec("gzip"), "hello");
  compressed[1] = 0x00;
  EXPECT_EQ(CodeOf(Codec("gzip").Decompress(compressed,
                                            kDefaultMaxDecompressedBytes)),
            ErrorCode::kCorruptBody);
}

TEST(GzipCodecTest, HigherLevelCompressesVariedJsonSmaller) {
  std::string json = VariedJson(256 * 1024, 11);
  EXPECT_LT(CompressOrDie(Codec("gzip"), json, 9).size(),
            CompressOrDie(Codec("gzip"), json, 1).size());
}

// ---------------------------------------------------------------------------
// brotli.

// From the brotli repository's tests/testdata: empty.compressed and
// x.compressed (which decodes to "X").
constexpr unsigned char kBrotliReferenceEmpty[] = {0x06};
constexpr unsigned char kBrotliReferenceX[] = {0x0b, 0x00, 0x80, 0x58, 0x03};

TEST(BrotliCodecTest, DecompressesReferenceStreams) {
  const CompressionCodec& brotli = Codec("br");
  absl::StatusOr<std::string> empty =
      brotli.Decompress(Bytes(kBrotliReferenceEmpty), 100);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");
  absl::StatusOr<std::string> x =
      brotli.Decompress(Bytes(kBrotliReferenceX), 100);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(*x, "X");
}

TEST(BrotliCodecTest, RejectsFlippedStreamHeaderBytesAsCorrupt) {
  // Brotli has no checksum, so damage to the data itself can decode to other
  // data; damage to the window size and first meta-block header is caught.
  const CompressionCodec& brotli = Codec("br");
  for (size_t size : {size_t{4096}, size_t{65536}, kMiB}) {
    std::string compressed = CompressOrDie(brotli, VariedJson(size, 12));
    for (size_t i : {0, 1}) {
      for (int mask : {0x01, 0x80, 0xff}) {
        std::string damaged = compressed;
        damaged[i] = static_cast<char>(damaged[i] ^ mask);
        EXPECT_EQ(
            CodeOf(brotli.Decompress(damaged, kDefaultMaxDecompressedBytes)),
            ErrorCode::kCorruptBody)
            << "size " << size << ", byte " << i << " ^ " << mask;
      }
    }
  }
}

TEST(BrotliCodecTest, RejectsTwoConcatenatedStreamsAsTrailingData) {
  const CompressionCodec& brotli = Codec("br");
  std::string twice =
      absl::StrCat(CompressOrDie(brotli, "one"), CompressOrDie(brotli, "two"));
  EXPECT_EQ(CodeOf(brotli.Decompress(twice, kDefaultMaxDecompressedBytes)),
            ErrorCode::kCorruptBody);
}

TEST(BrotliCodecTest, DefaultQualityCompressesVariedJsonSmallerThanGzip) {
  std::string json = VariedJson(kMiB, 13);
  EXPECT_LT(CompressOrDie(Codec("br"), json).size(),
            CompressOrDie(Codec("gzip"), json).size());
}

// ---------------------------------------------------------------------------
// FindCodec and SupportedEncodings.

TEST(FindCodecTest, FindsGzip) {
  absl::StatusOr<const CompressionCodec*> codec = FindCodec("gzip");
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ((*codec)->name(), "gzip");
}

TEST(FindCodecTest, FindsBrotli) {
  absl::StatusOr<const CompressionCodec*> codec = FindCodec("br");
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ((*codec)->name(), "br");
}

TEST(FindCodecTest, ReturnsTheSameInstanceEveryTime) {
  EXPECT_EQ(*FindCodec("gzip"), *FindCodec("gzip"));
  EXPECT_EQ(*FindCodec("br"), *FindCodec("br"));
}

TEST(FindCodecTest, IgnoresCaseAndSurroundingWhitespace) {
  absl::StatusOr<const CompressionCodec*> codec = FindCodec(" GZip ");
  ASSERT_TRUE(codec.ok()) << codec.status();
  EXPECT_EQ((*codec)->name(), "gzip");
}

TEST(FindCodecTest, RejectsUnknownEncodingListingTheSupportedOnes) {
  absl::StatusOr<const CompressionCodec*> codec = FindCodec("zstd");
  EXPECT_EQ(CodeOf(codec), ErrorCode::kUnsupportedEncoding);
  EXPECT_THAT(codec.status().message(), HasSubstr("zstd"));
  EXPECT_THAT(codec.status().message(), HasSubstr("gzip"));
  EXPECT_THAT(codec.status().message(), HasSubstr("br"));
}

TEST(FindCodecTest, RejectsIdentityWhichIsNoCodec) {
  EXPECT_EQ(CodeOf(FindCodec("identity")), ErrorCode::kUnsupportedEncoding);
}

TEST(FindCodecTest, QuotesAtMostTheStartOfAHugeName) {
  absl::StatusOr<const CompressionCodec*> codec =
      FindCodec(std::string(100000, 'z'));
  EXPECT_EQ(CodeOf(codec), ErrorCode::kUnsupportedEncoding);
  EXPECT_LT(codec.status().message().size(), 300u);
}

TEST(SupportedEncodingsTest, ListsBrotliThenGzip) {
  EXPECT_THAT(SupportedEncodings(), ElementsAre("br", "gzip"));
}

TEST(SupportedEncodingsTest, EveryEntryHasACodec) {
  for (absl::string_view name : SupportedEncodings()) {
    absl::StatusOr<const CompressionCodec*> codec = FindCodec(name);
    ASSERT_TRUE(codec.ok()) << codec.status();
    EXPECT_EQ((*codec)->name(), name);
  }
}

// ---------------------------------------------------------------------------
// NegotiateEncoding.

TEST(NegotiateEncodingTest, ChoosesGzipWhenOnlyGzipIsAccepted) {
  EXPECT_EQ(NegotiateEncoding("gzip"), "gzip");
}

TEST(NegotiateEncodingTest, PrefersBrotliOverGzip) {
  EXPECT_EQ(NegotiateEncoding("br, gzip"), "br");
}

TEST(NegotiateEncodingTest, UsesOurPreferenceNotThePeersOrder) {
  EXPECT_EQ(NegotiateEncoding("gzip, br"), "br");
}

TEST(NegotiateEncodingTest, IgnoresParametersAfterSemicolon) {
  EXPECT_EQ(NegotiateEncoding("gzip;q=1, br"), "br");
  EXPECT_EQ(NegotiateEncoding("gzip ; q=0.5"), "gzip");
}

TEST(NegotiateEncodingTest, TreatsQZeroAsNotAccepted) {
  EXPECT_EQ(NegotiateEncoding("br;q=0, gzip"), "gzip");
  EXPECT_EQ(NegotiateEncoding("gzip; q=0.000"), "identity");
}

TEST(NegotiateEncodingTest, ReturnsIdentityForAnEmptyList) {
  EXPECT_EQ(NegotiateEncoding(""), "identity");
}

TEST(NegotiateEncodingTest, ReturnsIdentityWhenNothingIsSupported) {
  EXPECT_EQ(NegotiateEncoding("zstd"), "identity");
  EXPECT_EQ(NegotiateEncoding("identity"), "identity");
  EXPECT_EQ(NegotiateEncoding("deflate, zstd"), "identity");
}

TEST(NegotiateEncodingTest, IgnoresUnknownNames) {
  EXPECT_EQ(NegotiateEncoding("zstd, gzip, deflate"), "gzip");
}

TEST(NegotiateEncodingTest, IgnoresCaseAndWhitespace) {
  EXPECT_EQ(NegotiateEncoding(" GZIP "), "gzip");
  EXPECT_EQ(NegotiateEncoding("\tBr\t,gzip"), "br");
}

TEST(NegotiateEncodingTest, IgnoresEmptyEntries) {
  EXPECT_EQ(NegotiateEncoding(",, gzip ,"), "gzip");
}

}  // namespace
}  // namespace asap
