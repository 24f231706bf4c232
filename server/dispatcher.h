// EnvelopeDispatcher: what the server does with one envelope, whichever RPC
// carried it (Send or SendBatch): validate, refuse replays, find the handler,
// run it, complete and check the response.
#ifndef ASAP_SERVER_DISPATCHER_H_
#define ASAP_SERVER_DISPATCHER_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "server/handler_registry.h"
#include "server/nonce_store.h"

namespace asap {

class EnvelopeDispatcher {
 public:
  // None of the pointers is owned; all must outlive the dispatcher. `nonces`
  // may be null (no replay check). `now` gives the current time.
  EnvelopeDispatcher(const v1::Manifest* manifest,
                     const HandlerRegistry* handlers,
                     ValidationOptions validation, NonceStore* nonces,
                     std::function<absl::Time()> now);

  // The response envelope for `request`, or the ASAP error: the validation
  // error, asap:transport/handler_not_found when no handler takes its
  // payload_type, the handler's own error, or asap:internal/error when the
  // handler's response is not a valid envelope. Thread-safe.
  absl::StatusOr<v1::Envelope> Dispatch(const v1::Envelope& request) const;

 private:
  const v1::Manifest* manifest_;
  const HandlerRegistry* handlers_;
  const ValidationOptions validation_;
  ValidationOptions response_validation_;
  ValidationOptions completed_response_validation_;
  NonceStore* nonces_;
  std::function<absl::Time()> now_;
};

}  // namespace asap

#endif  // ASAP_SERVER_DISPATCHER_H_
