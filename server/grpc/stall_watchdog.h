// StallWatchdog: cancels server streams whose client stopped reading.
//
// A stream writes one message at a time; when the client reads nothing,
// HTTP/2 flow control holds that write, and the stream would keep its queued
// messages (and the memory charged for them) forever. Streams register here
// and report whether a write has been pending for longer than the timeout;
// one thread checks them all a few times per timeout.
#ifndef ASAP_SERVER_GRPC_STALL_WATCHDOG_H_
#define ASAP_SERVER_GRPC_STALL_WATCHDOG_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace asap {

class StallWatchdog {
 public:
  // A stream the watchdog watches.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Cancels the stream when a write has been pending for `timeout` at
    // `now`. Called on the watchdog's thread; must not call Add or Remove.
    virtual void CancelIfStalled(absl::Time now, absl::Duration timeout) = 0;
    // The server is draining: the stream reads nothing more, answers what
    // it has read and ends, telling the client to go elsewhere for the
    // rest. Must not call Add or Remove.
    virtual void Drain() {}
  };

  explicit StallWatchdog(absl::Duration timeout);
  ~StallWatchdog();  // stops the thread
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  // Watches `stream` until Remove, which a stream must call before it is
  // destroyed. Returns false once DrainAll has been called: the stream is
  // watched all the same, and should end at once as Drain would.
  bool Add(Stream* stream);
  void Remove(Stream* stream);
  // Drains every stream watched (Stream::Drain); streams added later are
  // told so by Add.
  void DrainAll();

 private:
  void Run();

  const absl::Duration timeout_;
  absl::Mutex mu_;
  absl::flat_hash_set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_STALL_WATCHDOG_H_
