#include "server/http/stream_log.h"

#include <sys/random.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

struct StreamLog::Subscription::Stream {
  Stream(std::string stream_id, std::string owner_identity)
      : id(std::move(stream_id)), owner(std::move(owner_identity)) {}

  const std::string id;
  // The authenticated agent that opened the stream; empty: anyone with the
  // id may resume it.
  const std::string owner;
  // Callbacks run with `mu` held: that orders each stream's deliveries and
  // makes replay and live delivery one sequence.
  absl::Mutex mu;
  // Event data; event i has seq i + 1.
  std::vector<std::string> events ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
  bool finished ABSL_GUARDED_BY(mu) = false;
  // Forgotten by the log: its events are gone.
  bool dropped ABSL_GUARDED_BY(mu) = false;
  struct Subscriber {
    EventCallback on_event;
    EndCallback on_end;
  };
  absl::flat_hash_map<uint64_t, Subscriber> subscribers ABSL_GUARDED_BY(mu);
  uint64_t next_subscriber ABSL_GUARDED_BY(mu) = 1;
};

namespace {

constexpr size_t kStreamIdHexDigits = 32;

std::string EventId(absl::string_view stream_id, size_t seq) {
  return absl::StrCat(stream_id, "-", seq);
}

// 128 bits from the kernel's CSPRNG, as hex.
absl::StatusOr<std::string> RandomStreamId() {
  char bytes[kStreamIdHexDigits / 2];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError("getrandom failed");
    }
    filled += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(absl::string_view(bytes, sizeof(bytes)));
}

struct EventPosition {
  absl::string_view stream_id;
  uint64_t seq = 0;
};

// Parses "<stream id>" or "<stream id>-<seq>"; nullopt when malformed.
std::optional<EventPosition> ParseEventId(absl::string_view event_id) {
  EventPosition position;
  position.stream_id = event_id.substr(0, kStreamIdHexDigits);
  if (position.stream_id.size() != kStreamIdHexDigits) return std::nullopt;
  for (char c : position.stream_id) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) {
      return std::nullopt;
    }
  }
  absl::string_view rest = event_id.substr(kStreamIdHexDigits);
  if (rest.empty()) return position;
  if (rest[0] != '-') return std::nullopt;
  rest.remove_prefix(1);
  // Digits only: SimpleAtoi would also take a sign and spaces.
  if (rest.empty() || rest.size() > 19) return std::nullopt;
  for (char c : rest) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  if (!absl::SimpleAtoi(rest, &position.seq)) return std::nullopt;
  return position;
}

}  // namespace

StreamLog::Subscription::~Subscription() {
  if (stream_ == nullptr) return;
  absl::MutexLock lock(&stream_->mu);
  stream_->subscribers.erase(id_);
}

StreamLog::StreamLog(StreamLogOptions options, std::function<absl::Time()> now)
    : options_(options), now_(std::move(now)) {}

StreamLog::~StreamLog() = default;

void StreamLog::DropExpiredLocked(absl::Time now) {
  while (!expiry_.empty() && expiry_.front().first <= now) {
    auto it = streams_.find(expiry_.front().second);
    if (it != streams_.end()) {
      // A Subscription or an Append in progress may still hold the stream;
      // what it holds is freed now.
      std::shared_ptr<Stream> stream = std::move(it->second);
      streams_.erase(it);
      absl::MutexLock lock(&stream->mu);
      stream->dropped = true;
      total_bytes_ -= stream->bytes;
      stream->bytes = 0;
      std::vector<std::string>().swap(stream->events);
    }
    expiry_.pop_front();
  }
}

std::shared_ptr<StreamLog::Stream> StreamLog::FindLocked(absl::string_view id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

absl::StatusOr<std::string> StreamLog::Open(std::string owner) {
  absl::StatusOr<std::string> id = RandomStreamId();
  if (!id.ok()) return id.status();
  absl::Time now = now_();
  absl::MutexLock lock(&mu_);
  DropExpiredLocked(now);
  if (streams_.size() >= options_.max_streams) {
    return AsapError(ErrorCode::kResourceExhausted,
                     absl::StrCat("the server holds ", streams_.size(),
                                  " streams, its limit"));
  }
  streams_.emplace(*id, std::make_shared<Stream>(*id, std::move(owner)));
  return id;
}

absl::StatusOr<std::string> StreamLog::Append(absl::string_view id,
                                              std::string data) {
  const size_t size = data.size();
  absl::Time now = now_();
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    DropExpiredLocked(now);
    stream = FindLocked(id);
    if (stream == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no stream '", id.substr(0, 64), "'"));
    }
    if (size > options_.max_total_bytes - total_bytes_) {
      return AsapError(
          ErrorCode::kResourceExhausted,
          absl::StrCat("stream events hold ", total_bytes_,
                       " bytes; an event of ", size,
                       " would pass the limit of ", options_.max_total_bytes));
    }
    // Reserved now, given back below if the event is refused.
    total_bytes_ += size;
  }
  absl::Status refused;
  std::string event_id;
  {
    absl::MutexLock lock(&stream->mu);
    if (stream->dropped) {
      refused = absl::NotFoundError(
          absl::StrCat("no stream '", id.substr(0, 64), "'"));
    } else if (stream->finished) {
      refused = absl::FailedPreconditionError(
          absl::StrCat("stream '", id, "' is finished"));
    } else if (stream->events.size() >= options_.max_events_per_stream) {
      refused =
          AsapError(ErrorCode::kResourceExhausted,
                    absl::StrCat("stream '", id, "' holds ",
                                 stream->events.size(), " events, its limit"));
    } else {
      stream->events.push_back(std::move(data));
      stream->bytes += size;
      event_id = EventId(stream->id, stream->events.size());
      const std::string& stored = stream->events.back();
      for (auto& [subscriber_id, subscriber] : stream->subscribers) {
        subscriber.on_event(event_id, stored);
      }
    }
  }
  if (!refused.ok()) {
    absl::MutexLock lock(&mu_);
    total_bytes_ -= size;
    return refused;
  }
  return event_id;
}

void StreamLog::Finish(absl::string_view id) {
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    stream = FindLocked(id);
  }
  if (stream == nullptr) return;
  {
    absl::MutexLock lock(&stream->mu);
    if (stream->finished || stream->dropped) return;
    stream->finished = true;
    for (auto& [subscriber_id, subscriber] : stream->subscribers) {
      subscriber.on_end();
    }
    stream->subscribers.clear();
  }
  // Only finished streams enter the expiry queue, so a stream is never
  // dropped before its subscribers have had on_end().
  absl::Time expires = now_() + options_.grace;
  absl::MutexLock lock(&mu_);
  expiry_.emplace_back(expires, stream->id);
}

absl::StatusOr<std::unique_ptr<StreamLog::Subscription>> StreamLog::Subscribe(
    absl::string_view last_event_id, EventCallback on_event, EndCallback on_end,
    absl::string_view caller) {
  std::optional<EventPosition> position = ParseEventId(last_event_id);
  if (!position.has_value()) {
    return absl::NotFoundError(absl::StrCat("'", last_event_id.substr(0, 64),
                                            "' is not a stream or event id"));
  }
  absl::Time now = now_();
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    DropExpiredLocked(now);
    stream = FindLocked(position->stream_id);
  }
  auto not_found = [&] {
    return absl::NotFoundError(
        absl::StrCat("no stream '", position->stream_id, "' (or it expired)"));
  };
  // Another agent's stream is answered as if it did not exist.
  if (stream == nullptr || stream->owner != caller) return not_found();
  absl::MutexLock lock(&stream->mu);
  if (stream->dropped) return not_found();
  if (position->seq > stream->events.size()) {
    return absl::OutOfRangeError(absl::StrCat("stream '", stream->id, "' has ",
                                              stream->events.size(),
                                              " events, not ", position->seq));
  }
  // Appends wait for the lock, so the replay and the live events that follow
  // form one sequence with no gap and no repeat.
  for (size_t seq = position->seq + 1; seq <= stream->events.size(); ++seq) {
    on_event(EventId(stream->id, seq), stream->events[seq - 1]);
  }
  if (stream->finished) {
    on_end();
    return std::unique_ptr<Subscription>(new Subscription(nullptr, 0));
  }
  uint64_t id = stream->next_subscriber++;
  stream->subscribers.emplace(
      id, Stream::Subscriber{std::move(on_event), std::move(on_end)});
  return std::unique_ptr<Subscription>(new Subscription(stream, id));
}

}  // namespace asap
