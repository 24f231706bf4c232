// A consumer's ASAP agent: serves the typed Greeter agent (generated from
// greeter_agent.proto) on 127.0.0.1:0, greets itself once with the
// generated typed client, prints the reply as JSON and exits 0.
#include <iostream>
#include <memory>

#include "absl/time/time.h"
#include "asap/json.h"
#include "client/asap_client.h"
#include "greeter_service.h"
#include "server/agent_server.h"

int main() {
  consumer::GreeterAgentImpl greeter;
  asap::ServerOptions server_options;
  server_options.address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<asap::AsapServer>> server =
      asap::StartAgent(greeter, std::move(server_options));
  if (!server.ok()) {
    std::cerr << "start: " << server.status() << "\n";
    return 1;
  }
  std::cerr << "agent listening on " << (*server)->address() << "\n";

  int exit_code = 0;
  {
    asap::ClientOptions client_options;
    client_options.target = (*server)->address();
    client_options.timeout = absl::Seconds(10);
    absl::StatusOr<std::unique_ptr<asap::AsapClient>> client =
        asap::AsapClient::Create(std::move(client_options));
    if (!client.ok()) {
      std::cerr << "client: " << client.status() << "\n";
      return 1;
    }
    asap::TypedStubOptions stub_options;
    stub_options.sender = "urn:asap:agent:consumer-client";
    consumer::GreeterAgent::Client greeter_client(client->get(), stub_options);

    consumer::HelloRequest request;
    request.set_name("consumer");
    (*request.mutable_details()->mutable_fields())["from"].set_string_value(
        "agent.cc");
    absl::StatusOr<consumer::HelloReply> reply = greeter_client.Greet(request);
    if (!reply.ok()) {
      std::cerr << "greet: " << reply.status() << "\n";
      exit_code = 1;
    } else {
      std::cout << asap::ToJson(*reply, {.pretty = true}) << std::endl;
    }
  }
  (*server)->Shutdown(absl::Seconds(1));
  (*server)->Wait();
  return exit_code;
}
