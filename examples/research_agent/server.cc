// The research agent's server: gRPC and the JSON-RPC HTTP binding, until
// Ctrl-C or SIGTERM.
//
//   bazel run //examples/research_agent:server -- [GRPC_PORT [HTTP_PORT]]
#include <iostream>
#include <string>

#include "examples/research_agent/research_agent.h"
#include "server/agent_server.h"
#include "server/shutdown_signals.h"

int main(int argc, char** argv) {
  asap::ShutdownSignals signals;  // before gRPC starts its threads

  research::Researcher agent;  // outlives the server
  asap::ServerOptions options;
  options.address = std::string("127.0.0.1:") + (argc > 1 ? argv[1] : "0");
  options.http_address = std::string("127.0.0.1:") + (argc > 2 ? argv[2] : "0");
  // The manifest's id, name, version, description and skills (with their
  // JSON Schemas) come from research.proto.
  auto server = asap::StartAgent(agent, std::move(options));
  if (!server.ok()) {
    std::cerr << "research agent: " << server.status() << "\n";
    return 1;
  }
  std::cout << "listening on " << (*server)->address() << "\n"
            << "http listening on " << (*server)->http_address() << std::endl;

  signals.Wait();
  (*server)->Shutdown();
  (*server)->Wait();
  return 0;
}
