// Echo agent server: serves the echo agent until Ctrl-C or SIGTERM.
//
//   bazel run //examples/echo_agent:server -- 50051
#include <cstdlib>
#include <iostream>
#include <string>

#include "examples/echo_agent/echo_agent.h"
#include "server/asap_server.h"
#include "server/shutdown_signals.h"

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM before gRPC starts its threads.
  asap::ShutdownSignals signals;

  std::string port = argc > 1 ? argv[1] : "0";
  asap::ServerOptions options;
  options.address = "127.0.0.1:" + port;
  options.manifest =
      asap::examples::EchoManifest("");  // endpoint: bound address

  auto server = asap::AsapServer::Start(std::move(options),
                                        asap::examples::EchoHandlers());
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
