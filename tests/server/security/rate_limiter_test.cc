#include "server/security/rate_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/time/fake_clock.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

RateLimitOptions Limits(std::vector<RateLimit> limits) {
  RateLimitOptions options;
  options.enabled = true;
  options.limits = std::move(limits);
  return options;
}

TEST(RateLimiterTest, DisabledAlwaysAdmits) {
  RateLimiter limiter{RateLimitOptions{}};
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Acquire("a").ok());
  EXPECT_EQ(limiter.callers(), 0u);
}

TEST(RateLimiterTest, DefaultsAreTheReferences) {
  RateLimitOptions options;
  EXPECT_EQ(FormatRateLimits(options.limits), "10/s,100/min");
}

TEST(RateLimiterTest, BurstThenRefusedWithRetryAfterThenRefilled) {
  FakeClock clock;
  RateLimiter limiter(Limits({{10, absl::Seconds(1)}}), &clock);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(limiter.Acquire("a").ok()) << i;
  absl::Status refused = limiter.Acquire("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ErrorCodeOf(refused), ErrorCode::kRateLimited);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  std::optional<absl::Duration> wait = RetryAfterOf(refused);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Milliseconds(100));
  EXPECT_EQ(RetryAfterSeconds(*wait), 1);
  // Another caller has its own bucket.
  EXPECT_TRUE(limiter.Acquire("b").ok());
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(limiter.Acquire("a").ok());
  EXPECT_FALSE(limiter.Acquire("a").ok());
  EXPECT_EQ(limiter.refused(), 2u);
}

TEST(RateLimiterTest, EveryLimitAppliesAtOnce) {
  FakeClock clock;
  RateLimiter limiter(Limits({{10, absl::Seconds(1)}, {15, absl::Minutes(1)}}),
                      &clock);
  int admitted = 0;
  for (int second = 0; second < 5; ++second) {
    for (int i = 0; i < 10; ++i) admitted += limiter.Acquire("a").ok();
    clock.Advance(absl::Seconds(1));
  }
  // 10 in the first second, then the minute's bucket (15, refilling at
  // 0.25/s) allows about one more a second.
  EXPECT_GE(admitted, 15);
  EXPECT_LE(admitted, 17);
  absl::Status refused = limiter.Acquire("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("15/min"), absl::string_view::npos)
      << refused;
}

TEST(RateLimiterTest, CallersAreBoundedAndNewOnesShareAnOverflowBucket) {
  FakeClock clock;
  RateLimitOptions options = Limits({{2, absl::Minutes(1)}});
  options.max_callers = 100;
  RateLimiter limiter(options, &clock);
  // 100 busy callers fill the table.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(limiter.Acquire(absl::StrCat("caller", i)).ok());
  }
  EXPECT_EQ(limiter.callers(), 100u);
  // Address-cycling newcomers share one bucket, so the table does not grow
  // and they do not escape the limit.
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    admitted += limiter.Acquire(absl::StrCat("new", i)).ok();
  }
  EXPECT_EQ(limiter.callers(), 100u);
  EXPECT_EQ(admitted, 2);
  // Once the old callers' buckets are full again, they are forgotten.
  clock.Advance(absl::Minutes(2));
  EXPECT_TRUE(limiter.Acquire("fresh").ok());
  EXPECT_EQ(limiter.callers(), 1u);
}

TEST(RateLimiterTest, ParsesAndRefusesLimitText) {
  absl::StatusOr<std::vector<RateLimit>> parsed =
      ParseRateLimits(" 10/s, 100/min ,5/hour");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FormatRateLimits(*parsed), "10/s,100/min,5/h");
  EXPECT_TRUE(ParseRateLimits("off")->empty());
  for (const char* bad : {"", "10", "10/", "/s", "x/s", "-1/s", "0/s",
                          "10/fortnight", "10/s,", "10/s/s"}) {
    absl::StatusOr<std::vector<RateLimit>> refused = ParseRateLimits(bad);
    EXPECT_FALSE(refused.ok()) << bad;
    if (!refused.ok()) {
      EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(RateLimiterTest, PeerAddressDropsThePort) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:5342"), "127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:5342"), "::1");
  EXPECT_EQ(PeerAddress("ipv6:%5B::1%5D:5342"), "::1");
  EXPECT_EQ(PeerAddress("ipv6:[::ffff:10.0.0.1]:5342"), "10.0.0.1");
  EXPECT_EQ(PeerAddress("unix:/tmp/sock"), "unix:/tmp/sock");
}

}  // namespace
}  // namespace asap
