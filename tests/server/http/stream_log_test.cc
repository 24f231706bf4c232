// StreamLog: ordered, exactly-once delivery for resumable streams, expiry
// after the grace period, and its bounds.
#include "server/http/stream_log.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/errors.h"
#include "asap/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;

// What a subscriber received.
struct Received {
  absl::Mutex mu;
  std::vector<std::pair<std::string, std::string>> events ABSL_GUARDED_BY(mu);
  bool ended ABSL_GUARDED_BY(mu) = false;
  absl::Notification end;

  StreamLog::EventCallback OnEvent() {
    return [this](absl::string_view id, absl::string_view data) {
      absl::MutexLock lock(&mu);
      events.emplace_back(std::string(id), std::string(data));
    };
  }
  StreamLog::EndCallback OnEnd() {
    return [this] {
      {
        absl::MutexLock lock(&mu);
        ended = true;
      }
      end.Notify();
    };
  }
  std::vector<std::string> Data() {
    absl::MutexLock lock(&mu);
    std::vector<std::string> data;
    for (const auto& [id, value] : events) data.push_back(value);
    return data;
  }
  std::vector<std::string> Ids() {
    absl::MutexLock lock(&mu);
    std::vector<std::string> ids;
    for (const auto& [id, value] : events) ids.push_back(id);
    return ids;
  }
  bool Ended() {
    absl::MutexLock lock(&mu);
    return ended;
  }
};

class StreamLogTest : public ::testing::Test {
 protected:
  StreamLog MakeLog(StreamLogOptions options = {}) {
    return StreamLog(options, [this] { return clock_.Now(); });
  }
  FakeClock clock_;
};

TEST_F(StreamLogTest, OpenGivesDistinct128BitHexIds) {
  StreamLog log(StreamLogOptions{});
  absl::StatusOr<std::string> a = log.Open();
  absl::StatusOr<std::string> b = log.Open();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(*a, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(*a, *b);
}

TEST_F(StreamLogTest, AppendNumbersEventsFromOne) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  EXPECT_EQ(*log.Append(id, "a"), id + "-1");
  EXPECT_EQ(*log.Append(id, "b"), id + "-2");
}

TEST_F(StreamLogTest, SubscriberGetsBacklogThenLiveThenEnd) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  ASSERT_TRUE(log.Append(id, "one").ok());
  Received received;
  auto subscription =
      log.Subscribe(id + "-0", received.OnEvent(), received.OnEnd());
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  EXPECT_THAT(received.Data(), ElementsAre("one"));
  ASSERT_TRUE(log.Append(id, "two").ok());
  EXPECT_FALSE(received.Ended());
  log.Finish(id);
  EXPECT_TRUE(received.Ended());
  EXPECT_THAT(received.Data(), ElementsAre("one", "two"));
  EXPECT_THAT(received.Ids(), ElementsAre(id + "-1", id + "-2"));
}

TEST_F(StreamLogTest, BareStreamIdMeansFromTheStart) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  ASSERT_TRUE(log.Append(id, "one").ok());
  Received received;
  auto subscription = log.Subscribe(id, received.OnEvent(), received.OnEnd());
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  EXPECT_THAT(received.Data(), ElementsAre("one"));
}

TEST_F(StreamLogTest, ResumeAfterLastEventIdSkipsWhatWasSeen) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  for (const char* data : {"a", "b", "c"})
    ASSERT_TRUE(log.Append(id, data).ok());
  log.Finish(id);
  Received received;
  auto subscription =
      log.Subscribe(id + "-2", received.OnEvent(), received.OnEnd());
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  EXPECT_THAT(received.Ids(), ElementsAre(id + "-3"));
  EXPECT_TRUE(received.Ended());
}

TEST_F(StreamLogTest, ResumeAtTheLastEventOfAFinishedStreamOnlyEnds) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  ASSERT_TRUE(log.Append(id, "a").ok());
  log.Finish(id);
  Received received;
  ASSERT_TRUE(
      log.Subscribe(id + "-1", received.OnEvent(), received.OnEnd()).ok());
  EXPECT_TRUE(received.Data().empty());
  EXPECT_TRUE(received.Ended());
}

TEST_F(StreamLogTest, SeqPastTheStreamIsOutOfRange) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  ASSERT_TRUE(log.Append(id, "a").ok());
  Received received;
  auto subscription =
      log.Subscribe(id + "-2", received.OnEvent(), received.OnEnd());
  EXPECT_EQ(subscription.status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(StreamLogTest, MalformedOrUnknownIdsAreNotFound) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  std::string unknown(32, '0');
  for (const std::string& bad :
       {std::string(""), std::string("x"), id.substr(0, 31), id + "-",
        id + "-x", id + "-+1", id + "--1", id + "- 1", id + "1",
        absl::StrCat(id, "-", std::string(20, '9')), unknown, unknown + "-0"}) {
    Received received;
    auto subscription =
        log.Subscribe(bad, received.OnEvent(), received.OnEnd());
    EXPECT_EQ(subscription.status().code(), absl::StatusCode::kNotFound)
        << "'" << bad << "': " << subscription.status();
  }
}

TEST_F(StreamLogTest, AppendToUnknownOrFinishedStreamFails) {
  StreamLog log(StreamLogOptions{});
  EXPECT_EQ(log.Append(std::string(32, 'a'), "x").status().code(),
            absl::StatusCode::kNotFound);
  std::string id = *log.Open();
  log.Finish(id);
  EXPECT_EQ(log.Append(id, "x").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StreamLogTest, DestroyedSubscriptionGetsNothingMore) {
  StreamLog log(StreamLogOptions{});
  std::string id = *log.Open();
  Received received;
  auto subscription = log.Subscribe(id, received.OnEvent(), received.OnEnd());
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(log.Append(id, "a").ok());
  subscription->reset();
  ASSERT_TRUE(log.Append(id, "b").ok());
  log.Finish(id);
  EXPECT_THAT(received.Data(), ElementsAre("a"));
  EXPECT_FALSE(received.Ended());
}

TEST_F(StreamLogTest, SubscriptionMayOutliveTheLog) {
  Received received;
  std::unique_ptr<StreamLog::Subscription> subscription;
  {
    StreamLog log(StreamLogOptions{});
    std::string id = *log.Open();
    subscription = *log.Subscribe(id, received.OnEvent(), received.OnEnd());
  }
  subscription.reset();
}

TEST_F(StreamLogTest, FinishedStreamIsForgottenAfterGrace) {
  StreamLogOptions options;
  options.grace = absl::Minutes(5);
  StreamLog log = MakeLog(options);
  std::string id = *log.Open();
  ASSERT_TRUE(log.Append(id, "a").ok());
  log.Finish(id);
  clock_.Advance(absl::Minutes(5) - absl::Seconds(1));
  Received before;
  EXPECT_TRUE(log.Subscribe(id, before.OnEvent(), before.OnEnd()).ok());
  EXPECT_THAT(before.Data(), ElementsAre("a"));
  clock_.Advance(absl::Seconds(1));
  Received after;
  EXPECT_EQ(log.Subscribe(id, after.OnEvent(), after.OnEnd()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StreamLogTest, OpenStreamsDoNotExpire) {
  StreamLog log = MakeLog();
  std::string id = *log.Open();
  clock_.Advance(absl::Hours(24));
  EXPECT_TRUE(log.Append(id, "late").ok());
}

TEST_F(StreamLogTest, MaxStreamsRefusesOpenUntilOneExpires) {
  StreamLogOptions options;
  options.max_streams = 2;
  options.grace = absl::Seconds(10);
  StreamLog log = MakeLog(options);
  std::string first = *log.Open();
  ASSERT_TRUE(log.Open().ok());
  absl::StatusOr<std::string> third = log.Open();
  EXPECT_EQ(ErrorCodeOf(third.status()), ErrorCode::kResourceExhausted);
  log.Finish(first);
  // Finished but still resumable: it still counts.
  EXPECT_FALSE(log.Open().ok());
  clock_.Advance(absl::Seconds(10));
  EXPECT_TRUE(log.Open().ok());
}

TEST_F(StreamLogTest, EventsPerStreamAreBounded) {
  StreamLogOptions options;
  options.max_events_per_stream = 2;
  StreamLog log(options);
  std::string id = *log.Open();
  ASSERT_TRUE(log.Append(id, "a").ok());
  ASSERT_TRUE(log.Append(id, "b").ok());
  EXPECT_EQ(ErrorCodeOf(log.Append(id, "c").status()),
            ErrorCode::kResourceExhausted);
}

TEST_F(StreamLogTest, TotalBytesAreBoundedAndFreedOnExpiry) {
  StreamLogOptions options;
  options.max_total_bytes = 10;
  options.grace = absl::Seconds(1);
  StreamLog log = MakeLog(options);
  std::string a = *log.Open();
  std::string b = *log.Open();
  ASSERT_TRUE(log.Append(a, std::string(6, 'x')).ok());
  EXPECT_EQ(ErrorCodeOf(log.Append(b, std::string(5, 'y')).status()),
            ErrorCode::kResourceExhausted);
  ASSERT_TRUE(log.Append(b, std::string(4, 'y')).ok());
  log.Finish(a);
  EXPECT_FALSE(log.Append(b, "z").ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(log.Append(b, std::string(6, 'z')).ok());
}

TEST_F(StreamLogTest, RefusedAppendGivesItsBytesBack) {
  StreamLogOptions options;
  options.max_total_bytes = 10;
  StreamLog log(options);
  std::string id = *log.Open();
  log.Finish(id);
  EXPECT_FALSE(log.Append(id, std::string(10, 'x')).ok());
  std::string other = *log.Open();
  EXPECT_TRUE(log.Append(other, std::string(10, 'x')).ok());
}

// Subscribers that join while events are being appended each get every
// event from their starting point exactly once, in order.
TEST_F(StreamLogTest, SubscribeRacingAppendDeliversEachEventOnceInOrder) {
  constexpr int kEvents = 2000;
  constexpr int kSubscribers = 8;
  StreamLogOptions options;
  options.max_events_per_stream = kEvents;
  StreamLog log(options);
  std::string id = *log.Open();
  std::thread appender([&] {
    for (int i = 1; i <= kEvents; ++i) {
      ASSERT_TRUE(log.Append(id, std::to_string(i)).ok());
    }
    log.Finish(id);
  });
  std::vector<std::unique_ptr<Received>> received;
  std::vector<std::unique_ptr<StreamLog::Subscription>> subscriptions;
  for (int s = 0; s < kSubscribers; ++s) {
    received.push_back(std::make_unique<Received>());
    auto subscription =
        log.Subscribe(id, received.back()->OnEvent(), received.back()->OnEnd());
    ASSERT_TRUE(subscription.ok()) << subscription.status();
    subscriptions.push_back(*std::move(subscription));
  }
  appender.join();
  for (auto& r : received) {
    r->end.WaitForNotification();
    std::vector<std::string> data = r->Data();
    ASSERT_EQ(data.size(), static_cast<size_t>(kEvents));
    for (int i = 0; i < kEvents; ++i) {
      ASSERT_EQ(data[i], std::to_string(i + 1));
    }
  }
}

// Resuming mid-stream while events are appended: the events after the
// resume point, each once.
TEST_F(StreamLogTest, ResumeRacingAppendStartsRightAfterTheLastEventId) {
  constexpr int kEvents = 1000;
  StreamLogOptions options;
  options.max_events_per_stream = kEvents;
  StreamLog log(options);
  std::string id = *log.Open();
  absl::Notification half;
  std::thread appender([&] {
    for (int i = 1; i <= kEvents; ++i) {
      ASSERT_TRUE(log.Append(id, std::to_string(i)).ok());
      if (i == kEvents / 2) half.Notify();
    }
    log.Finish(id);
  });
  half.WaitForNotification();
  Received received;
  auto subscription = log.Subscribe(absl::StrCat(id, "-", kEvents / 2),
                                    received.OnEvent(), received.OnEnd());
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  appender.join();
  received.end.WaitForNotification();
  std::vector<std::string> data = received.Data();
  ASSERT_EQ(data.size(), static_cast<size_t>(kEvents / 2));
  for (int i = 0; i < kEvents / 2; ++i) {
    ASSERT_EQ(data[i], std::to_string(kEvents / 2 + i + 1));
  }
}

}  // namespace
}  // namespace asap
