#include "server/security/rate_limiter.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "asap/errors.h"

namespace asap {
namespace {

constexpr absl::string_view kSecondNames[] = {"s", "sec", "second"};
constexpr absl::string_view kMinuteNames[] = {"m", "min", "minute"};
constexpr absl::string_view kHourNames[] = {"h", "hour"};

std::optional<absl::Duration> ParseUnit(absl::string_view unit) {
  for (absl::string_view name : kSecondNames) {
    if (unit == name) return absl::Seconds(1);
  }
  for (absl::string_view name : kMinuteNames) {
    if (unit == name) return absl::Minutes(1);
  }
  for (absl::string_view name : kHourNames) {
    if (unit == name) return absl::Hours(1);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::vector<RateLimit>> ParseRateLimits(absl::string_view text) {
  std::vector<RateLimit> limits;
  text = absl::StripAsciiWhitespace(text);
  if (text == "off") return limits;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    std::vector<absl::string_view> fields = absl::StrSplit(part, '/');
    int64_t count = 0;
    std::optional<absl::Duration> period;
    if (fields.size() == 2) {
      period = ParseUnit(absl::StripAsciiWhitespace(fields[1]));
    }
    if (fields.size() != 2 ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[0]), &count) ||
        count <= 0 || count > 1000000000 || !period.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad rate limit \"", part.substr(0, 64),
          "\": expected COUNT/UNIT such as 10/s or 100/min (units s, min, h)"));
    }
    limits.push_back({count, *period});
  }
  if (limits.empty()) {
    return absl::InvalidArgumentError("no rate limit given");
  }
  return limits;
}

std::string FormatRateLimits(const std::vector<RateLimit>& limits) {
  return absl::StrJoin(limits, ",", [](std::string* out, const RateLimit& l) {
    absl::string_view unit = "s";
    if (l.period == absl::Minutes(1)) unit = "min";
    if (l.period == absl::Hours(1)) unit = "h";
    absl::StrAppend(out, l.count, "/", unit);
  });
}

RateLimiter::RateLimiter(RateLimitOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock != nullptr ? clock : &RealClock()),
      description_(FormatRateLimits(options_.limits)) {
  overflow_ = FullBuckets(clock_->Now());
}

RateLimiter::Buckets RateLimiter::FullBuckets(absl::Time now) const {
  Buckets buckets(options_.limits.size());
  for (size_t i = 0; i < buckets.size(); ++i) {
    buckets[i].tokens = static_cast<double>(options_.limits[i].count);
    buckets[i].updated = now;
  }
  return buckets;
}

bool RateLimiter::Refill(Buckets& buckets, absl::Time now) const {
  bool full = true;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const RateLimit& limit = options_.limits[i];
    Bucket& bucket = buckets[i];
    if (now > bucket.updated) {
      double rate = static_cast<double>(limit.count) /
                    absl::ToDoubleSeconds(limit.period);
      bucket.tokens = std::min<double>(
          static_cast<double>(limit.count),
          bucket.tokens + rate * absl::ToDoubleSeconds(now - bucket.updated));
      bucket.updated = now;
    }
    if (bucket.tokens < static_cast<double>(limit.count)) full = false;
  }
  return full;
}

absl::Status RateLimiter::Take(Buckets& buckets, absl::Time now) {
  Refill(buckets, now);
  absl::Duration wait = absl::ZeroDuration();
  size_t exhausted = buckets.size();
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i].tokens >= 1.0) continue;
    const RateLimit& limit = options_.limits[i];
    double rate =
        static_cast<double>(limit.count) / absl::ToDoubleSeconds(limit.period);
    absl::Duration until = absl::Seconds((1.0 - buckets[i].tokens) / rate);
    if (until > wait) {
      wait = until;
      exhausted = i;
    }
  }
  if (exhausted != buckets.size()) {
    ++refused_;
    const RateLimit& limit = options_.limits[exhausted];
    return WithRetryAfter(
        AsapError(
            ErrorCode::kRateLimited,
            absl::StrCat("rate limit exceeded: ", FormatRateLimits({limit}),
                         " (limits ", description_, ")")),
        wait);
  }
  for (Bucket& bucket : buckets) bucket.tokens -= 1.0;
  return absl::OkStatus();
}

bool RateLimiter::Evict(absl::Time now) {
  size_t before = callers_.size();
  for (auto it = callers_.begin(); it != callers_.end();) {
    auto current = it++;
    if (Refill(current->second, now)) callers_.erase(current);
  }
  return callers_.size() < before;
}

absl::Status RateLimiter::Acquire(absl::string_view caller) {
  if (!enabled()) return absl::OkStatus();
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = callers_.find(caller);
  if (it == callers_.end()) {
    if (callers_.size() >= options_.max_callers) {
      // A full scan at most once a second: a flood of new callers while
      // every known one is busy must not cost a scan per call.
      if (now - last_evict_ < absl::Seconds(1) || !Evict(now)) {
        last_evict_ = now;
        return Take(overflow_, now);
      }
      last_evict_ = now;
    }
    it = callers_.emplace(std::string(caller), FullBuckets(now)).first;
  }
  return Take(it->second, now);
}

size_t RateLimiter::callers() const {
  absl::MutexLock lock(&mu_);
  return callers_.size();
}

uint64_t RateLimiter::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

std::string PeerAddress(absl::string_view peer) {
  for (absl::string_view prefix : {"ipv4:", "ipv6:"}) {
    if (!absl::ConsumePrefix(&peer, prefix)) continue;
    // gRPC percent-encodes the brackets of an IPv6 peer ("ipv6:%5B::1%5D:p").
    std::string host;
    if (absl::ConsumePrefix(&peer, "[")) {
      host = std::string(peer.substr(0, peer.find(']')));
    } else if (absl::ConsumePrefix(&peer, "%5B") ||
               absl::ConsumePrefix(&peer, "%5b")) {
      size_t end = peer.find("%5D");
      if (end == absl::string_view::npos) end = peer.find("%5d");
      host = std::string(peer.substr(0, end));
    } else {
      host = std::string(peer.substr(0, peer.rfind(':')));
    }
    // An IPv4 client on a dual-stack socket is the same client.
    absl::string_view mapped = host;
    if (absl::ConsumePrefix(&mapped, "::ffff:") &&
        mapped.find('.') != absl::string_view::npos) {
      return std::string(mapped);
    }
    return host;
  }
  return std::string(peer);
}

}  // namespace asap
