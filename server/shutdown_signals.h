// ShutdownSignals: wait for SIGINT or SIGTERM to shut a server down
// gracefully (and, optionally, SIGHUP to reload its certificates).
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
  // `with_reload`: SIGHUP is taken too, and Wait returns it (a server
  // reloads its certificates then, AsapServer::ReloadTls, and waits again).
  explicit ShutdownSignals(bool with_reload = false);
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Blocks until SIGINT or SIGTERM (or SIGHUP, with_reload) arrives;
  // returns the signal number.
  int Wait();

 private:
  sigset_t set_;
};

}  // namespace asap

#endif  // ASAP_SERVER_SHUTDOWN_SIGNALS_H_
