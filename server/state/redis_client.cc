#include "server/state/redis_client.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace asap {
namespace {

// Keeps a write to a connection that Redis closed from raising SIGPIPE
// (whose default action ends the process), without changing the process's
// signal handling: SIGPIPE is blocked in this thread while the guard lives,
// and one raised meanwhile is consumed before it is unblocked.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    // A SIGPIPE already pending belongs to someone else: leave it alone.
    if (sigismember(&pending, SIGPIPE)) return;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      timespec zero = {0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool blocked_ = false;
};

std::string ContextError(const redisContext* context) {
  return context->errstr[0] != '\0' ? context->errstr : "connection error";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(
    RedisOptions options) {
  if (options.timeout <= absl::ZeroDuration() ||
      options.reconnect_backoff < absl::ZeroDuration() ||
      options.max_reconnect_backoff < options.reconnect_backoff) {
    return absl::InvalidArgumentError(
        "RedisOptions: timeout must be positive, reconnect_backoff not "
        "negative and at most max_reconnect_backoff");
  }
  auto client = std::unique_ptr<RedisClient>(new RedisClient(options));
  absl::string_view url = options.url;
  if (absl::ConsumePrefix(&url, "unix://")) {
    if (url.empty() || url[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "Redis URL '", options.url, "': unix:// needs an absolute path"));
    }
    client->unix_path_ = std::string(url);
  } else if (absl::ConsumePrefix(&url, "redis://")) {
    size_t slash = url.find('/');
    if (slash != absl::string_view::npos) {
      if (!absl::SimpleAtoi(url.substr(slash + 1), &client->db_) ||
          client->db_ < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Redis URL '", options.url, "': the database is not a number"));
      }
      url = url.substr(0, slash);
    }
    size_t colon = url.rfind(':');
    int port = 6379;
    if (colon != absl::string_view::npos) {
      if (!absl::SimpleAtoi(url.substr(colon + 1), &port) || port <= 0 ||
          port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Redis URL '", options.url, "': the port is not valid"));
      }
      url = url.substr(0, colon);
    }
    if (url.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Redis URL '", options.url, "' has no host"));
    }
    client->host_ = std::string(url);
    client->port_ = port;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis URL '", options.url,
                     "' is not redis://HOST:PORT[/DB] or unix:///PATH"));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the Redis timeout must be positive");
  }
  return client;
}

RedisClient::~RedisClient() {
  absl::MutexLock lock(&mu_);
  for (redisContext* context : idle_) redisFree(context);
}

uint64_t RedisClient::connect_attempts() const {
  absl::MutexLock lock(&mu_);
  return connect_attempts_;
}

absl::StatusOr<redisContext*> RedisClient::Connect() {
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = absl::Now();
    if (now < retry_connect_at_) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", options_.url, " (next attempt in ",
                       absl::FormatDuration(absl::Trunc(retry_connect_at_ - now,
                                                        absl::Milliseconds(1))),
                       ")"));
    }
    ++connect_attempts_;
  }
  absl::StatusOr<redisContext*> context = ConnectNow();
  absl::MutexLock lock(&mu_);
  if (context.ok()) {
    backoff_ = absl::ZeroDuration();
    retry_connect_at_ = absl::InfinitePast();
  } else {
    backoff_ = backoff_ == absl::ZeroDuration()
                   ? options_.reconnect_backoff
                   : std::min(backoff_ * 2, options_.max_reconnect_backoff);
    absl::Duration jitter = absl::Milliseconds(absl::Uniform<double>(
        absl::BitGen(), 0, 0.2 * absl::ToDoubleMilliseconds(backoff_)));
    retry_connect_at_ = absl::Now() + backoff_ + jitter;
  }
  return context;
}

absl::StatusOr<redisContext*> RedisClient::ConnectNow() {
  timeval timeout = absl::ToTimeval(options_.timeout);
  redisContext* context =
      unix_path_.empty()
          ? redisConnectWithTimeout(host_.c_str(), port_, timeout)
          : redisConnectUnixWithTimeout(unix_path_.c_str(), timeout);
  if (context == nullptr) {
    return absl::UnavailableError("cannot allocate a Redis connection");
  }
  if (context->err != 0) {
    std::string error = ContextError(context);
    redisFree(context);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", options_.url, ": ", error));
  }
  redisSetTimeout(context, timeout);
  if (db_ != 0) {
    auto* reply =
        static_cast<redisReply*>(redisCommand(context, "SELECT %d", db_));
    bool ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
    if (reply != nullptr) freeReplyObject(reply);
    if (!ok) {
      redisFree(context);
      return absl::UnavailableError(
          absl::StrCat("cannot select database ", db_, " on ", options_.url));
    }
  }
  return context;
}

absl::StatusOr<RedisReply> RedisClient::Command(
    const std::vector<std::string>& argv) {
  SigpipeGuard no_sigpipe;
  redisContext* context = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      context = idle_.back();
      idle_.pop_back();
    }
  }
  if (context == nullptr) {
    absl::StatusOr<redisContext*> connected = Connect();
    if (!connected.ok()) return connected.status();
    context = *connected;
  }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(args.size()), args.data(), lengths.data()));
  if (reply == nullptr) {
    // An I/O error or a timeout: the connection's state is unknown, so it
    // is dropped and the next command reconnects.
    std::string error = ContextError(context);
    redisFree(context);
    return absl::UnavailableError(
        absl::StrCat("Redis at ", options_.url, ": ", error));
  }
  absl::StatusOr<RedisReply> result;
  switch (reply->type) {
    case REDIS_REPLY_NIL:
      result = RedisReply{};
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: {
      RedisReply value;
      value.type = reply->type == REDIS_REPLY_STRING
                       ? RedisReply::Type::kString
                       : RedisReply::Type::kStatus;
      value.str.assign(reply->str, reply->len);
      result = std::move(value);
      break;
    }
    case REDIS_REPLY_INTEGER: {
      RedisReply value;
      value.type = RedisReply::Type::kInteger;
      value.integer = reply->integer;
      result = std::move(value);
      break;
    }
    case REDIS_REPLY_ERROR:
      result = absl::InternalError(absl::StrCat(
          "Redis at ", options_.url, ": ",
          absl::string_view(reply->str, reply->len).substr(0, 200)));
      break;
    default:
      result = absl::InternalError(absl::StrCat(
          "Redis at ", options_.url, ": unexpected reply type ", reply->type));
  }
  freeReplyObject(reply);
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
    idle_.push_back(context);
  } else {
    redisFree(context);
  }
  return result;
}

}  // namespace asap
