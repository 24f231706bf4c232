// Echo agent client: fetches the agent's manifest, calls its skills with the
// typed client generated from echo.proto, and shows the task.request and
// task.response envelopes those calls exchange.
//
//   bazel run //examples/echo_agent:client -- 127.0.0.1:50051
#include <iostream>
#include <memory>

#include "asap/json.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"
#include "examples/echo_agent/echo.asap.h"

namespace {

using echo::v1::EchoAgent;

absl::Status Run(const std::string& target) {
  asap::ClientOptions options;
  options.target = target;
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));

  // 1. Who is there?
  ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest manifest, client->GetManifest());
  std::cout << "manifest: " << asap::ToJson(manifest) << "\n";

  // 2. Ask it to do something, with typed messages.
  asap::TypedStubOptions stub_options;
  stub_options.sender = "urn:asap:agent:echo-client";
  EchoAgent::Client echo(client.get(), stub_options);
  echo::v1::EchoRequest request;
  request.set_text("hello, agent");
  ASAP_ASSIGN_OR_RETURN(echo::v1::EchoReply reply, echo.Echo(request));
  std::cout << "echo: \"" << reply.text() << "\"\n";

  // 3. A skill that streams progress before its reply.
  echo::v1::EchoStepsRequest steps;
  steps.set_text("done");
  steps.set_steps(3);
  ASAP_ASSIGN_OR_RETURN(
      reply, echo.EchoSteps(steps, [](double percent, absl::string_view what) {
        std::cout << "progress: " << percent << "% " << what << "\n";
      }));
  std::cout << "echo_steps: \"" << reply.text() << "\"\n";

  // 4. What went over the wire: plain ASAP envelopes, which any ASAP client
  // can send.
  ASAP_ASSIGN_OR_RETURN(asap::v1::Envelope envelope,
                        echo.stub().Request(EchoAgent::kEchoSkill, request));
  std::cout << "request envelope: " << asap::ToJson(envelope, {.pretty = true})
            << "\n";
  ASAP_ASSIGN_OR_RETURN(asap::v1::Envelope response, client->Send(envelope));
  std::cout << "response envelope: " << asap::ToJson(response, {.pretty = true})
            << "\n";
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: client HOST:PORT\n";
    return 2;
  }
  absl::Status status = Run(argv[1]);
  if (!status.ok()) {
    std::cerr << argv[1] << ": " << status << "\n";
    return 1;
  }
  return 0;
}
