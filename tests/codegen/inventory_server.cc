// The inventory test agent as a process, for the Python tests: serves gRPC
// on 127.0.0.1 (port 0 unless given), prints "listening on HOST:PORT", runs
// until SIGTERM.
#include <iostream>
#include <string>

#include "server/agent_server.h"
#include "server/shutdown_signals.h"
#include "tests/codegen/inventory_agent.h"

int main(int argc, char** argv) {
  asap::ShutdownSignals signals;
  asap::testing::inventory::Inventory agent;
  asap::ServerOptions options;
  options.address = std::string("127.0.0.1:") + (argc > 1 ? argv[1] : "0");
  auto server = asap::StartAgent(agent, std::move(options));
  if (!server.ok()) {
    std::cerr << "inventory server: " << server.status() << "\n";
    return 1;
  }
  std::cout << "listening on " << (*server)->address() << std::endl;
  signals.Wait();
  (*server)->Shutdown();
  (*server)->Wait();
  return 0;
}
