// SendBatch: many envelopes in one call, one result per envelope, in order.
// Over gRPC they travel on one SendBatch stream (frames of up to 100
// envelopes, a window of 2000 unanswered); over the HTTP binding as JSON-RPC
// batch arrays of 50 (client/http/http_options.h). One bad envelope does not
// sink the batch: results[i] is its response or its own error, unless
// BatchOptions::fail_fast asks for the first error instead.
//
//   bazel run //examples/batch:client -- 127.0.0.1:50051 http://127.0.0.1:8080
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"
#include "examples/common/echo_task.h"
#include "examples/common/run_on_targets.h"

namespace {

constexpr int kEnvelopes = 1000;
constexpr int kInvalid = 500;

// 1000 echo requests; the one at kInvalid has no skill_id, which a
// task.request must have.
std::vector<asap::v1::Envelope> Envelopes() {
  std::vector<asap::v1::Envelope> envelopes;
  for (int i = 0; i < kEnvelopes; ++i) {
    envelopes.push_back(asap::examples::EchoTaskRequest(
        absl::StrCat("envelope ", i),
        {.sender = "urn:asap:agent:batch-example"}));
  }
  envelopes[kInvalid].mutable_payload()->mutable_fields()->erase("skill_id");
  return envelopes;
}

std::string Elapsed(absl::Time start) {
  return absl::FormatDuration(
      absl::Trunc(absl::Now() - start, absl::Milliseconds(1)));
}

absl::Status Batch(const std::string& target) {
  asap::ClientOptions options;
  options.target = target;
  // The client checks each envelope before sending it and would refuse the
  // bad one itself, with the same error; off here so that the agent answers
  // it in the middle of the stream.
  options.validate_before_send = false;
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));

  // 1. The whole batch: 999 responses and one error, each at its position.
  absl::Time start = absl::Now();
  ASAP_ASSIGN_OR_RETURN(asap::AsapClient::BatchResults results,
                        client->SendBatch(Envelopes()));
  int answered = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].ok()) {
      ++answered;
    } else {
      std::cout << target << ":   results[" << i << "]: "
                << asap::ErrorCodeName(*asap::ErrorCodeOf(results[i].status()))
                << "\n";
    }
  }
  std::cout << target << ": " << results.size() << " envelopes, " << answered
            << " answered, " << results.size() - answered << " failed, in "
            << Elapsed(start) << "\n";
  if (answered != kEnvelopes - 1 || results[kInvalid].ok()) {
    return absl::InternalError("expected one failure, at the bad envelope");
  }
  if (uint64_t arrays = client->http_stats().batch_arrays; arrays > 0) {
    std::cout << target << ":   sent as " << arrays << " JSON-RPC arrays\n";
  }

  // 2. fail_fast: the first error, with its position, instead of results.
  asap::BatchOptions fail_fast;
  fail_fast.fail_fast = true;
  start = absl::Now();
  absl::StatusOr<asap::AsapClient::BatchResults> stopped =
      client->SendBatch(Envelopes(), fail_fast);
  if (stopped.ok()) return absl::InternalError("fail_fast did not fail");
  std::cout << target << ": fail_fast: " << stopped.status().message()
            << ", after " << Elapsed(start) << "\n";
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return asap::examples::RunOnTargets(argc, argv, Batch);
}
