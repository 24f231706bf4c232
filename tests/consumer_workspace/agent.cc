// A consumer's ASAP agent: serves the echo handlers plus its own
// greeting.request handler on 127.0.0.1:0, sends itself one greeting with
// AsapClient, prints the response envelope as JSON and exits 0.
#include <iostream>
#include <memory>

#include "absl/time/time.h"
#include "asap/json.h"
#include "client/asap_client.h"
#include "examples/echo_agent/echo_agent.h"
#include "greeter_service.h"
#include "server/asap_server.h"
#include "server/handler_registry.h"

int main() {
  asap::HandlerRegistry handlers = asap::examples::EchoHandlers();
  if (absl::Status s = handlers.Register(consumer::kGreetingRequest,
                                         consumer::GreetingHandler);
      !s.ok()) {
    std::cerr << "register: " << s << "\n";
    return 1;
  }
  asap::ServerOptions server_options;
  server_options.address = "127.0.0.1:0";
  server_options.manifest = consumer::GreeterManifest();
  absl::StatusOr<std::unique_ptr<asap::AsapServer>> server =
      asap::AsapServer::Start(std::move(server_options), std::move(handlers));
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

    asap::v1::Envelope request;
    request.set_sender("urn:asap:agent:consumer-client");
    request.set_recipient(consumer::kAgentId);
    request.set_payload_type(consumer::kGreetingRequest);
    auto& payload = *request.mutable_payload()->mutable_fields();
    payload["name"].set_string_value("consumer");
    (*payload["details"].mutable_struct_value()->mutable_fields())["from"]
        .set_string_value("agent.cc");

    absl::StatusOr<asap::v1::Envelope> response = (*client)->Send(request);
    if (!response.ok()) {
      std::cerr << "send: " << response.status() << "\n";
      exit_code = 1;
    } else {
      std::cout << asap::ToJson(*response, {.pretty = true}) << std::endl;
      if (response->payload_type() != consumer::kGreetingResponse) {
        std::cerr << "unexpected payload_type " << response->payload_type()
                  << "\n";
        exit_code = 1;
      }
    }
  }
  (*server)->Shutdown(absl::Seconds(1));
  (*server)->Wait();
  return exit_code;
}
