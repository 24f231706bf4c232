#include "asap/ids.h"

#include <random>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "asap/errors.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

TEST(UlidTest, HasTwentySixCrockfordCharacters) {
  std::string id = NewUlid();
  EXPECT_EQ(id.size(), 26u);
  EXPECT_TRUE(IsUlid(id)) << id;
}

TEST(UlidTest, IdsAreUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewUlid());
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(UlidTest, EarlierTimeSortsFirst) {
  absl::Time t = absl::FromUnixMillis(1700000000000);
  EXPECT_LT(NewUlid(t), NewUlid(t + absl::Milliseconds(1)));
}

TEST(UlidTest, EncodesTheTimestampInTheFirstTenCharacters) {
  // 0 ms is all zeros; the Unix epoch + 1 ms ends the time part in "1".
  EXPECT_EQ(NewUlid(absl::FromUnixMillis(0)).substr(0, 10), "0000000000");
  EXPECT_EQ(NewUlid(absl::FromUnixMillis(1)).substr(0, 10), "0000000001");
  EXPECT_EQ(NewUlid(absl::FromUnixMillis(32)).substr(0, 10), "0000000010");
}

TEST(UlidTest, RejectsWrongLengthAndAlphabet) {
  EXPECT_FALSE(IsUlid("01HQ3KZ5V6X8N2M4P7R9T1W3Y"));    // 25
  EXPECT_FALSE(IsUlid("01HQ3KZ5V6X8N2M4P7R9T1W3YUU"));  // 27
  EXPECT_FALSE(IsUlid("01HQ3KZ5V6X8N2M4P7R9T1W3YU"));   // U not in alphabet
  EXPECT_FALSE(IsUlid("81HQ3KZ5V6X8N2M4P7R9T1W3Y5"));   // overflows 128 bits
  EXPECT_TRUE(IsUlid("01hq3kz5v6x8n2m4p7r9t1w3y5"));    // case-insensitive
}

TEST(TimestampTest, FormatsUtcWithMicroseconds) {
  absl::Time t = absl::FromUnixMicros(1705314600123456);
  EXPECT_EQ(FormatTimestamp(t), "2024-01-15T10:30:00.123456Z");
}

TEST(TimestampTest, ParsesWhatItFormats) {
  absl::Time t = absl::FromUnixMicros(1705314600123456);
  absl::StatusOr<absl::Time> parsed = ParseTimestamp(FormatTimestamp(t));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, t);
}

TEST(TimestampTest, ParsesNumericOffsetsAndNaiveTimes) {
  absl::Time expected = absl::FromUnixSeconds(1705314600);
  EXPECT_EQ(*ParseTimestamp("2024-01-15T10:30:00+00:00"), expected);
  EXPECT_EQ(*ParseTimestamp("2024-01-15T12:30:00+02:00"), expected);
  EXPECT_EQ(*ParseTimestamp("2024-01-15T10:30:00"), expected);
}

TEST(TimestampTest, RejectsGarbageWithInvalidTimestamp) {
  absl::StatusOr<absl::Time> parsed = ParseTimestamp("yesterday");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(ErrorCodeOf(parsed.status()), ErrorCode::kInvalidTimestamp);
}

TEST(UrnTest, AcceptsAgentUrns) {
  EXPECT_TRUE(IsAgentUrn("urn:asap:agent:research-v1"));
  EXPECT_TRUE(IsAgentUrn("urn:asap:agent:coordinator:main"));
  EXPECT_TRUE(IsAgentUrn("urn:asap:agent:a"));
}

TEST(UrnTest, RejectsOtherShapes) {
  EXPECT_FALSE(IsAgentUrn(""));
  EXPECT_FALSE(IsAgentUrn("urn:asap:agent:"));
  EXPECT_FALSE(IsAgentUrn("urn:asap:agent:Research"));  // upper case
  EXPECT_FALSE(IsAgentUrn("urn:asap:agent:a_b"));       // underscore
  EXPECT_FALSE(IsAgentUrn("urn:asap:agent:a:b:c"));     // three segments
  EXPECT_FALSE(IsAgentUrn("urn:asap:agent:a:"));        // empty sub-segment
  EXPECT_FALSE(IsAgentUrn("urn:asap:tool:a"));
  EXPECT_FALSE(IsAgentUrn(" urn:asap:agent:a"));
}

TEST(UrnTest, LengthLimitIs256) {
  std::string prefix = "urn:asap:agent:";
  EXPECT_TRUE(IsAgentUrn(prefix + std::string(256 - prefix.size(), 'a')));
  EXPECT_FALSE(IsAgentUrn(prefix + std::string(257 - prefix.size(), 'a')));
}

}  // namespace
}  // namespace asap

namespace asap {
namespace {

// FormatTimestamp and ParseTimestamp are hand-written for speed; Abseil is
// the reference they must agree with.
TEST(TimestampTest, FormatAgreesWithAbseilOverManyTimes) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    // From 1900 to 2200, microsecond resolution.
    int64_t micros =
        static_cast<int64_t>(rng() % 9467280000000000ull) - 2208988800000000ll;
    absl::Time t = absl::FromUnixMicros(micros);
    ASSERT_EQ(FormatTimestamp(t),
              absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone()))
        << micros;
  }
}

TEST(TimestampTest, ParseAgreesWithAbseil) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    int64_t nanos = static_cast<int64_t>(rng() % 4102444800000000000ull);
    absl::Time t = absl::FromUnixNanos(nanos);
    for (const char* format :
         {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%E3S+00:00",
          "%Y-%m-%dT%H:%M:%E9S-05:30", "%Y-%m-%dT%H:%M:%E*S+14:00"}) {
      std::string text = absl::FormatTime(format, t, absl::UTCTimeZone());
      absl::Time expected;
      std::string error;
      ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &expected, &error))
          << text;
      absl::StatusOr<absl::Time> parsed = ParseTimestamp(text);
      ASSERT_TRUE(parsed.ok()) << text;
      ASSERT_EQ(*parsed, expected) << text;
    }
  }
}

TEST(TimestampTest, RejectsImpossibleDates) {
  for (const char* text :
       {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-32T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+2:00", "2024-01-01", ""}) {
    EXPECT_FALSE(ParseTimestamp(text).ok()) << text;
  }
  EXPECT_TRUE(ParseTimestamp("2024-02-29T00:00:00Z").ok());
}

}  // namespace
}  // namespace asap

namespace asap {
namespace {

// Found by tests/fuzz:parsers_fuzz: absl::ParseTime reads these words as
// times, and formatting the infinite past overflowed.
TEST(TimestampTest, InfiniteWordsAreNotTimestamps) {
  EXPECT_FALSE(ParseTimestamp("infinite-past").ok());
  EXPECT_FALSE(ParseTimestamp("infinite-future").ok());
}

TEST(TimestampTest, FarTimesFormatWithoutOverflow) {
  EXPECT_FALSE(FormatTimestamp(absl::InfinitePast()).empty());
  EXPECT_FALSE(FormatTimestamp(absl::InfiniteFuture()).empty());
  EXPECT_EQ(FormatTimestamp(absl::FromUnixMicros(-1)),
            "1969-12-31T23:59:59.999999Z");
}

}  // namespace
}  // namespace asap
