// StreamLog: the events of streaming calls, kept so that a client whose
// connection dropped can resume where it left off (Server-Sent Events with
// `Last-Event-ID`).
//
// clang-format off
//   asap::StreamLog log(asap::StreamLogOptions{});
//   absl::StatusOr<std::string> stream = log.Open();
//   // As the handler emits:
//   absl::StatusOr<std::string> event_id = log.Append(*stream, json);
//   log.Finish(*stream);
//   // A client (re)connecting with Last-Event-ID "<stream>-<seq>":
//   absl::StatusOr<std::unique_ptr<asap::StreamLog::Subscription>> sub =
//       log.Subscribe(
//           last_event_id,
//           [&](absl::string_view id, absl::string_view data) {
//             Send(id, data);
//           },
//           [&] { End(); });
// clang-format on
//
// Every subscriber gets each event after its starting point exactly once and
// in order, whether it was appended before or after Subscribe. A finished
// stream is kept for `grace`, then forgotten. Streams, events per stream and
// bytes held are all bounded. Thread-safe.
#ifndef ASAP_SERVER_HTTP_STREAM_LOG_H_
#define ASAP_SERVER_HTTP_STREAM_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace asap {

struct StreamLogOptions {
  // How long a finished stream can still be resumed.
  absl::Duration grace = absl::Minutes(5);
  // Streams held at once, open or finished within their grace.
  size_t max_streams = 10000;
  // Events one stream may hold.
  size_t max_events_per_stream = 1024;
  // Bytes of event data held over all streams.
  size_t max_total_bytes = 64 << 20;
};

class StreamLog {
 public:
  using EventCallback =
      std::function<void(absl::string_view event_id, absl::string_view data)>;
  using EndCallback = std::function<void()>;

  // A subscriber's registration; destroying it unsubscribes (no callback
  // runs after the destructor returns). It may outlive the log.
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    friend class StreamLog;
    struct Stream;
    Subscription(std::shared_ptr<Stream> stream, uint64_t id)
        : stream_(std::move(stream)), id_(id) {}
    std::shared_ptr<Stream> stream_;  // null when nothing is registered
    uint64_t id_ = 0;
  };

  // `now` gives the current time (tests pass a fake clock's).
  explicit StreamLog(StreamLogOptions options,
                     std::function<absl::Time()> now = absl::Now);
  StreamLog(const StreamLog&) = delete;
  StreamLog& operator=(const StreamLog&) = delete;
  ~StreamLog();

  // Opens a stream and returns its id: 128 random bits from the kernel, as
  // 32 lower-case hex digits. Returns asap:transport/resource_exhausted
  // when max_streams streams are held (expired ones are dropped first).
  // `owner` is the authenticated agent that opens it (empty: none); only
  // the same caller may then Subscribe.
  absl::StatusOr<std::string> Open(std::string owner = "");

  // Appends an event to stream `id` and returns its event id,
  // "<stream id>-<seq>" with seq counted from 1; subscribers get it before
  // this returns. Errors: NotFound for an unknown or expired stream,
  // FailedPrecondition for a finished one, asap:transport/resource_exhausted
  // past max_events_per_stream or max_total_bytes.
  absl::StatusOr<std::string> Append(absl::string_view id, std::string data);

  // Marks stream `id` finished: subscribers get on_end() and the stream is
  // kept for `grace` more, then forgotten. Unknown ids and repeated calls
  // are ignored.
  void Finish(absl::string_view id);

  // Subscribes to the events after `last_event_id` ("<stream id>-<seq>";
  // "<stream id>-0" or the bare stream id mean from the start): the ones
  // held are passed to `on_event` before this returns, then later ones as
  // they are appended, then `on_end` once the stream is finished (also
  // before this returns, when it already is). Callbacks run on the
  // subscribing or appending thread, one at a time per stream, and must not
  // call into the log or destroy the subscription. Errors: NotFound for a
  // malformed id, an unknown or expired stream, or one whose owner is not
  // `caller` (the authenticated agent resuming; empty: none), OutOfRange
  // for a seq past the stream's last event.
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      absl::string_view last_event_id, EventCallback on_event,
      EndCallback on_end, absl::string_view caller = "");

 private:
  using Stream = Subscription::Stream;

  // Forgets finished streams whose grace has passed.
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Stream> FindLocked(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StreamLogOptions options_;
  const std::function<absl::Time()> now_;

  // Lock order: mu_ before any Stream::mu.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Stream>> streams_
      ABSL_GUARDED_BY(mu_);
  // Finished streams in the order they finished, with the time they expire.
  std::deque<std::pair<absl::Time, std::string>> expiry_ ABSL_GUARDED_BY(mu_);
  size_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace asap

#endif  // ASAP_SERVER_HTTP_STREAM_LOG_H_
