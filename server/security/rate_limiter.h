// RateLimiter: token buckets per caller, as the ASAP reference limits each
// client (10 requests a second and 100 a minute by default).
//
// clang-format off
//   asap::RateLimitOptions options;
//   options.enabled = true;
//   asap::RateLimiter limiter(options);
//   absl::Status status = limiter.Acquire("urn:asap:agent:alice");
//   // Over the limit: RESOURCE_EXHAUSTED asap:transport/rate_limited, with
//   // RetryAfterOf(status) telling when a token will be there again.
// clang-format on
//
// Each caller has one bucket per limit: a bucket holds at most `burst`
// tokens (the limit's count), refills at count/period, and a call takes one
// token from every bucket, or from none when any is empty. The callers
// remembered are bounded (max_callers); past it, the callers whose buckets
// are full again (idle long enough to have forgotten nothing) are dropped
// first, then, if every caller is busy, new callers share one overflow
// bucket so an attacker cycling addresses cannot grow memory or escape the
// limit.
#ifndef ASAP_SERVER_SECURITY_RATE_LIMITER_H_
#define ASAP_SERVER_SECURITY_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/time/clock.h"

namespace asap {

// One limit: `count` calls per `period`.
struct RateLimit {
  int64_t count = 0;
  absl::Duration period = absl::Seconds(1);
};

struct RateLimitOptions {
  // Off by default: limits are a deployment decision (ServerOptions and
  // `asap serve --rate-limit` turn them on).
  bool enabled = false;
  // Every limit applies at once; the reference's defaults.
  std::vector<RateLimit> limits = {{10, absl::Seconds(1)},
                                   {100, absl::Minutes(1)}};
  // Callers (identities or client addresses) whose buckets are kept.
  size_t max_callers = 100000;
};

// Parses "10/s,100/min" (units s, sec, second, m, min, minute, h, hour):
// InvalidArgument naming the bad part. "off" gives no limits.
absl::StatusOr<std::vector<RateLimit>> ParseRateLimits(absl::string_view text);
// "10/s,100/min": the form ParseRateLimits reads and 429 bodies show.
std::string FormatRateLimits(const std::vector<RateLimit>& limits);

class RateLimiter {
 public:
  // `clock` (not owned) defaults to the real clock.
  explicit RateLimiter(RateLimitOptions options, const Clock* clock = nullptr);

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  bool enabled() const { return options_.enabled && !options_.limits.empty(); }

  // Takes one token for `caller`: OK, or RESOURCE_EXHAUSTED
  // (asap:transport/rate_limited) with a retry-after hint (RetryAfterOf)
  // when one of its buckets is empty. Always OK when disabled. Thread-safe.
  absl::Status Acquire(absl::string_view caller);

  // The limits, as "10/s,100/min".
  const std::string& description() const { return description_; }

  // Callers currently remembered (for tests and metrics).
  size_t callers() const;
  // Calls refused so far.
  uint64_t refused() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  using Buckets = std::vector<Bucket>;

  // Refills `buckets` up to `now`; true when every one is full.
  bool Refill(Buckets& buckets, absl::Time now) const;
  // Takes a token from each bucket, or returns the wait for the emptiest.
  absl::Status Take(Buckets& buckets, absl::Time now);
  Buckets FullBuckets(absl::Time now) const;
  // Makes room for one more caller; false when none could be dropped.
  bool Evict(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RateLimitOptions options_;
  const Clock* const clock_;
  const std::string description_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Buckets> callers_ ABSL_GUARDED_BY(mu_);
  // Shared by new callers while the table is full of busy ones.
  Buckets overflow_ ABSL_GUARDED_BY(mu_);
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_evict_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The caller key of a peer string without its port: "ipv4:127.0.0.1:5342"
// -> "127.0.0.1", "ipv6:[::1]:5342" -> "::1". Other forms come back as is.
std::string PeerAddress(absl::string_view peer);

}  // namespace asap

#endif  // ASAP_SERVER_SECURITY_RATE_LIMITER_H_
