// One client program, both bindings: the same function runs against the
// agent's gRPC address and against its HTTP binding, and only the target
// differs.
//
//   bazel run //examples/http_binding:client -- 127.0.0.1:50051
//   http://127.0.0.1:8080
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"

namespace {

asap::v1::Envelope Request(const asap::v1::Manifest& manifest,
                           const std::string& text) {
  asap::v1::Envelope request;
  request.set_sender("urn:asap:agent:example-client");
  request.set_recipient(manifest.id());
  request.set_payload_type("task.request");
  auto& payload = *request.mutable_payload()->mutable_fields();
  payload["conversation_id"].set_string_value("conversation-1");
  payload["skill_id"].set_string_value("echo");
  (*payload["input"].mutable_struct_value()->mutable_fields())["text"]
      .set_string_value(text);
  return request;
}

std::string ResultText(const asap::v1::Envelope& response) {
  const auto& payload = response.payload().fields();
  auto result = payload.find("result");
  if (result == payload.end()) return "";
  const auto& fields = result->second.struct_value().fields();
  auto text = fields.find("text");
  return text == fields.end() ? "" : text->second.string_value();
}

// The whole exchange: manifest, one envelope, a batch, a stream.
absl::Status Exchange(const std::string& target) {
  asap::ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(10);
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));

  ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest manifest, client->GetManifest());
  std::cout << target << ": manifest of " << manifest.id() << "\n";

  ASAP_ASSIGN_OR_RETURN(asap::v1::Envelope response,
                        client->Send(Request(manifest, "hello")));
  std::cout << target << ": " << response.payload_type() << " \""
            << ResultText(response) << "\"\n";

  std::vector<asap::v1::Envelope> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(Request(manifest, absl::StrCat("batch ", i)));
  }
  ASAP_ASSIGN_OR_RETURN(asap::AsapClient::BatchResults results,
                        client->SendBatch(std::move(batch)));
  int answered = 0;
  for (const absl::StatusOr<asap::v1::Envelope>& result : results) {
    if (result.ok()) ++answered;
  }
  std::cout << target << ": batch of " << results.size() << ", " << answered
            << " answered\n";

  asap::v1::Envelope stream = Request(manifest, "");
  stream.set_payload_type("echo.stream");
  stream.mutable_payload()->clear_fields();
  (*stream.mutable_payload()->mutable_fields())["text"].set_string_value(
      "streamed");
  (*stream.mutable_payload()->mutable_fields())["steps"].set_number_value(3);
  int updates = 0;
  ASAP_ASSIGN_OR_RETURN(
      asap::v1::Envelope final,
      client->SendStream(stream,
                         [&](const asap::v1::Envelope&) { ++updates; }));
  std::cout << target << ": stream of " << updates << " updates, then "
            << final.payload_type() << "\n";

  asap::AsapClient::HttpStats http = client->http_stats();
  if (!http.protocol.empty()) {
    std::cout << target << ": over " << http.protocol << ", server speaks v"
              << http.server_version << ", " << http.requests
              << " HTTP requests\n";
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: client TARGET...  (HOST:PORT for gRPC, "
                 "http://HOST:PORT for the HTTP binding)\n";
    return 2;
  }
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    if (absl::Status status = Exchange(argv[i]); !status.ok()) {
      std::cerr << argv[i] << ": " << status << "\n";
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}
