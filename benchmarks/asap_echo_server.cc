// The asap server the server benchmarks start as a child process: the echo
// agent of server/echo_skill.h (what `asap serve` runs: any task.request is
// answered with its input) on 127.0.0.1:PORT, until SIGTERM. The baseline,
// raw_echo_server, answers the same way on plain gRPC.
//
//   bazel run //benchmarks:asap_echo_server -- 50051
#include <cstdlib>
#include <iostream>
#include <string>

#include "server/asap_server.h"
#include "server/echo_skill.h"
#include "server/shutdown_signals.h"

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM before gRPC starts its threads.
  asap::ShutdownSignals signals;

  std::string port = argc > 1 ? argv[1] : "0";
  asap::ServerOptions options;
  options.address = "127.0.0.1:" + port;
  options.manifest = asap::EchoManifest("");  // endpoint: bound address

  auto server =
      asap::AsapServer::Start(std::move(options), asap::EchoHandlers());
  if (!server.ok()) {
    std::cerr << "echo server: " << server.status() << "\n";
    return 1;
  }
  std::cout << "listening on " << (*server)->address() << std::endl;

  signals.Wait();
  (*server)->Shutdown();  // calls in flight finish (5 s grace)
  (*server)->Wait();
  return 0;
}
