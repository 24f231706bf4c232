#include "tests/fuzz/echo_dispatch.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "server/dispatcher.h"
#include "server/handler_registry.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/testing/echo_requests.h"

namespace asap::fuzz {
namespace {

std::string Describe(const absl::Status& status) {
  return std::string(status.message().substr(0, 300));
}

// Built once: the dispatcher keeps pointers to the manifest and handlers.
struct EchoAgent {
  v1::Manifest manifest = asap::EchoManifest("127.0.0.1:50051");
  HandlerRegistry handlers = asap::EchoHandlers();
  EnvelopeDispatcher dispatcher{&manifest, &handlers, ValidationOptions(),
                                /*nonces=*/nullptr, [] { return FuzzNow(); }};
};

const EnvelopeDispatcher& Dispatcher() {
  static const EchoAgent* agent = new EchoAgent();
  return agent->dispatcher;
}

}  // namespace

absl::Time FuzzNow() {
  static const absl::Time now = *ParseTimestamp("2024-01-15T10:30:05Z");
  return now;
}

void ValidateAndDispatch(const v1::Envelope& envelope) {
  absl::Status valid = ValidateEnvelope(envelope, FuzzNow());
  FUZZ_CHECK(valid.ok() || ErrorCodeOf(valid).has_value(),
             "ValidateEnvelope failed without an ASAP code: %s",
             Describe(valid).c_str());

  absl::StatusOr<v1::Envelope> response = Dispatcher().Dispatch(envelope);
  if (!response.ok()) {
    FUZZ_CHECK(ErrorCodeOf(response.status()).has_value(),
               "Dispatch failed without an ASAP code: %s",
               Describe(response.status()).c_str());
    return;
  }
  if (!envelope.id().empty()) {
    FUZZ_CHECK(response->correlation_id() == envelope.id(),
               "correlation_id '%s' for request id '%s'",
               response->correlation_id().c_str(), envelope.id().c_str());
  }
  ValidationOptions options;
  options.check_timestamp_window = false;
  absl::Status response_valid = ValidateEnvelope(*response, FuzzNow(), options);
  FUZZ_CHECK(response_valid.ok(), "invalid response: %s",
             Describe(response_valid).c_str());
}

}  // namespace asap::fuzz
