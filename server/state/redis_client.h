// RedisClient: a small synchronous Redis client on hiredis for the shared
// stores (server/state/redis_stores.h): a mutex-protected pool of
// connections, each command bounded by a timeout, and a connection that saw
// an I/O error is dropped so the next command reconnects. After a failed
// connection attempt, commands fail at once (no new attempt) for a backoff
// that doubles while Redis stays unreachable: a Redis that is down or
// black-holed costs each envelope microseconds, not a connect timeout.
#ifndef ASAP_SERVER_STATE_REDIS_CLIENT_H_
#define ASAP_SERVER_STATE_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct redisContext;

namespace asap {

struct RedisOptions {
  // redis://HOST:PORT[/DB] or unix:///PATH/TO.sock.
  std::string url;
  // Bounds connecting and each command (send and reply).
  absl::Duration timeout = absl::Milliseconds(200);
  // When Redis cannot be reached: false refuses the envelope
  // (asap:transport/unavailable), true falls back to an in-memory store of
  // this replica and counts it (stats().fallbacks).
  bool fail_open = false;
  // Prepended to every key, so several agents can share one Redis.
  std::string key_prefix = "asap:";
  // Idle connections kept for reuse; more are opened while busy.
  int max_idle_connections = 8;
  // After a failed connection attempt, the next one waits this long, doubled
  // for each further failure up to max_reconnect_backoff (plus up to 20%
  // jitter, so replicas do not reconnect in step).
  absl::Duration reconnect_backoff = absl::Milliseconds(100);
  absl::Duration max_reconnect_backoff = absl::Seconds(2);
};

// One reply, reduced to what the stores read.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kStatus };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus
  int64_t integer = 0;
};

class RedisClient {
 public:
  // InvalidArgument for a URL that is not redis://HOST:PORT[/DB] or
  // unix:///PATH. Does not connect: the first command does.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Create(
      RedisOptions options);

  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command (binary-safe arguments). Unavailable when Redis cannot
  // be reached or does not answer within the timeout; Internal for an
  // error reply or a reply of another type (array). Thread-safe.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& argv);

  const RedisOptions& options() const { return options_; }

  // Connection attempts made so far (successful or not).
  uint64_t connect_attempts() const;

 private:
  explicit RedisClient(RedisOptions options) : options_(std::move(options)) {}
  // A new connection, unless a failed attempt's backoff is still running.
  absl::StatusOr<redisContext*> Connect();
  absl::StatusOr<redisContext*> ConnectNow();

  const RedisOptions options_;
  std::string host_;
  int port_ = 0;
  std::string unix_path_;
  int db_ = 0;
  mutable absl::Mutex mu_;
  std::vector<redisContext*> idle_ ABSL_GUARDED_BY(mu_);
  // The reconnect backoff: no attempt before retry_connect_at_.
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  absl::Time retry_connect_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t connect_attempts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace asap

#endif  // ASAP_SERVER_STATE_REDIS_CLIENT_H_
