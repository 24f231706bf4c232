// Echo agent server: serves the echo agent over gRPC until Ctrl-C or
// SIGTERM. Its skills are the methods of EchoAgent::Service, generated from
// echo.proto.
//
//   bazel run //examples/echo_agent:server -- 50051
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "examples/echo_agent/echo.asap.h"
#include "server/agent_server.h"
#include "server/shutdown_signals.h"

namespace {

class EchoAgentImpl final : public echo::v1::EchoAgent::Service {
 public:
  absl::StatusOr<echo::v1::EchoReply> Echo(
      const asap::HandlerContext& context,
      const echo::v1::EchoRequest& request) override {
    echo::v1::EchoReply reply;
    reply.set_text(request.text());
    return reply;
  }

  absl::StatusOr<echo::v1::EchoReply> EchoSteps(
      const asap::HandlerContext& context,
      const echo::v1::EchoStepsRequest& request,
      const asap::skills::ProgressEmit& progress) override {
    if (request.steps() < 0 || request.steps() > 100) {
      return asap::AsapError(asap::ErrorCode::kMalformedEnvelope,
                             "input.steps: must be 0-100");
    }
    for (int step = 1; step <= request.steps(); ++step) {
      if (!progress(100.0 * step / request.steps(),
                    absl::StrCat("step ", step, " of ", request.steps()))) {
        return asap::AsapError(asap::ErrorCode::kCancelled,
                               "the caller went away");
      }
    }
    echo::v1::EchoReply reply;
    reply.set_text(request.text());
    return reply;
  }
};

}  // namespace

int main(int argc, char** argv) {
  // Block SIGINT/SIGTERM before gRPC starts its threads.
  asap::ShutdownSignals signals;

  EchoAgentImpl agent;  // outlives the server
  asap::ServerOptions options;
  options.address = std::string("127.0.0.1:") + (argc > 1 ? argv[1] : "0");
  // The manifest's id, name, version, description and skills (with their
  // JSON Schemas) come from echo.proto; its endpoint is the bound address.
  auto server = asap::StartAgent(agent, std::move(options));
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
