#include "asap/ids.h"

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
