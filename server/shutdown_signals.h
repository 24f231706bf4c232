// ShutdownSignals: wait for SIGINT or SIGTERM to shut a server down gracefully.
//
//   int main() {
//     asap::ShutdownSignals signals;   // first: before any thread starts
//     auto server = asap::AsapServer::Start(...);
//     int signal = signals.Wait();     // Ctrl-C or `kill`
//     (*server)->Shutdown(absl::Seconds(5));  // calls in flight finish
//   }
//
// The constructor blocks both signals in the calling thread, and so in every
// thread started after it (gRPC's included); Wait() takes them with sigwait.
#ifndef ASAP_SERVER_SHUTDOWN_SIGNALS_H_
#define ASAP_SERVER_SHUTDOWN_SIGNALS_H_

#include <signal.h>

namespace asap {

class ShutdownSignals {
 public:
  ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Blocks until SIGINT or SIGTERM arrives; returns the signal number.
  int Wait();

 private:
  sigset_t set_;
};

}  // namespace asap

#endif  // ASAP_SERVER_SHUTDOWN_SIGNALS_H_
