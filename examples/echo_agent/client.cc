// Echo agent client: fetches the agent's manifest, sends it a task.request and
// prints the response envelope as JSON.
//
//   bazel run //examples/echo_agent:client -- 127.0.0.1:50051
#include <iostream>

#include "asap/json.h"
#include "client/asap_client.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: client HOST:PORT\n";
    return 2;
  }
  asap::ClientOptions options;
  options.target = argv[1];
  auto client = asap::AsapClient::Create(options);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }

  // 1. Who is there?
  absl::StatusOr<asap::v1::Manifest> manifest = (*client)->GetManifest();
  if (!manifest.ok()) {
    std::cerr << "manifest: " << manifest.status() << "\n";
    return 1;
  }
  std::cout << "manifest: " << asap::ToJson(*manifest) << "\n";

  // 2. Ask it to do something. id and timestamp are filled in by Send.
  asap::v1::Envelope request;
  request.set_sender("urn:asap:agent:echo-client");
  request.set_recipient(manifest->id());
  request.set_payload_type("task.request");
  auto& payload = *request.mutable_payload()->mutable_fields();
  payload["conversation_id"].set_string_value("conv-1");
  payload["skill_id"].set_string_value("echo");
  (*payload["input"].mutable_struct_value()->mutable_fields())["text"]
      .set_string_value("hello, agent");

  absl::StatusOr<asap::v1::Envelope> response = (*client)->Send(request);
  if (!response.ok()) {
    std::cerr << "send: " << response.status() << "\n";
    return 1;
  }
  std::cout << asap::ToJson(*response, {.pretty = true}) << "\n";
  return 0;
}
