// WorkerPool: a fixed set of threads running submitted tasks in FIFO order.
// The server runs SendBatch frames on it so that handlers of one batch run
// concurrently.
#ifndef ASAP_SERVER_WORKER_POOL_H_
#define ASAP_SERVER_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace asap {

class WorkerPool {
 public:
  // Starts `threads` threads (at least 1).
  explicit WorkerPool(int threads);
  // Runs the tasks already queued, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; it runs on one of the pool's threads (after Stop, on the
  // calling thread: no task is ever dropped).
  void Submit(std::function<void()> task);

  // Runs the tasks already queued, then joins the threads. Idempotent.
  void Stop();

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace asap

#endif  // ASAP_SERVER_WORKER_POOL_H_
