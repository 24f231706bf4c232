// The Compression enum's names (client/compression_options.h): what goes on
// the wire, and what a flag or a configuration file may say.
#include "client/compression_options.h"

#include <string>

#include "gtest/gtest.h"

namespace asap {
namespace {

constexpr Compression kAll[] = {Compression::kNone, Compression::kGzip,
                                Compression::kBrotli};

TEST(CompressionNameTest, IsTheWireToken) {
  EXPECT_EQ(CompressionName(Compression::kNone), "identity");
  EXPECT_EQ(CompressionName(Compression::kGzip), "gzip");
  EXPECT_EQ(CompressionName(Compression::kBrotli), "br");
}

TEST(ParseCompressionTest, RoundTripsEveryName) {
  for (Compression compression : kAll) {
    absl::StatusOr<Compression> parsed =
        ParseCompression(CompressionName(compression));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, compression);
  }
}

TEST(ParseCompressionTest, TakesNoneAndIgnoresCaseAndSpaces) {
  EXPECT_EQ(ParseCompression("none").value(), Compression::kNone);
  EXPECT_EQ(ParseCompression(" BR ").value(), Compression::kBrotli);
  EXPECT_EQ(ParseCompression("Gzip").value(), Compression::kGzip);
}

TEST(ParseCompressionTest, RefusesOtherNamesListingTheValidOnes) {
  for (const char* name : {"", "bogus", "zstd", "deflate", "brotli", "gz"}) {
    absl::StatusOr<Compression> parsed = ParseCompression(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("none, gzip or br"),
              absl::string_view::npos)
        << parsed.status();
  }
}

TEST(AcceptEncodingListTest, RendersThePreferenceOrder) {
  EXPECT_EQ(AcceptEncodingList(CompressionOptions().accept_encoding),
            "br, gzip");
  EXPECT_EQ(AcceptEncodingList({Compression::kGzip, Compression::kBrotli}),
            "gzip, br");
  EXPECT_EQ(AcceptEncodingList({Compression::kGzip}), "gzip");
}

TEST(AcceptEncodingListTest, EmptyOrNoneOnlyIsIdentity) {
  EXPECT_EQ(AcceptEncodingList({}), "");
  EXPECT_EQ(AcceptEncodingList({Compression::kNone}), "");
  EXPECT_EQ(AcceptEncodingList({Compression::kNone, Compression::kGzip}),
            "gzip");
}

}  // namespace
}  // namespace asap
