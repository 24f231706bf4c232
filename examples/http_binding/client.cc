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
#include "examples/common/echo_task.h"
#include "examples/common/run_on_targets.h"

namespace {

using ::asap::examples::EchoResultText;
using ::asap::examples::EchoStreamRequest;
using ::asap::examples::EchoTaskRequest;

// The whole exchange: manifest, one envelope, a batch, a stream.
absl::Status Exchange(const std::string& target) {
  asap::ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(10);
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));

  ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest manifest, client->GetManifest());
  std::cout << target << ": manifest of " << manifest.id() << "\n";

  ASAP_ASSIGN_OR_RETURN(
      asap::v1::Envelope response,
      client->Send(EchoTaskRequest("hello", {.recipient = manifest.id()})));
  std::cout << target << ": " << response.payload_type() << " \""
            << EchoResultText(response) << "\"\n";

  std::vector<asap::v1::Envelope> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(EchoTaskRequest(absl::StrCat("batch ", i),
                                    {.recipient = manifest.id()}));
  }
  ASAP_ASSIGN_OR_RETURN(asap::AsapClient::BatchResults results,
                        client->SendBatch(std::move(batch)));
  int answered = 0;
  for (const absl::StatusOr<asap::v1::Envelope>& result : results) {
    if (result.ok()) ++answered;
  }
  std::cout << target << ": batch of " << results.size() << ", " << answered
            << " answered\n";

  asap::v1::Envelope stream =
      EchoStreamRequest("streamed", 3, {.recipient = manifest.id()});
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
  return asap::examples::RunOnTargets(argc, argv, Exchange);
}
