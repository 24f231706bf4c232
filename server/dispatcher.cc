#include "server/dispatcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asap/errors.h"

namespace asap {

EnvelopeDispatcher::EnvelopeDispatcher(const v1::Manifest* manifest,
                                       const HandlerRegistry* handlers,
                                       ValidationOptions validation,
                                       NonceStore* nonces,
                                       std::function<absl::Time()> now)
    : manifest_(manifest),
      handlers_(handlers),
      validation_(validation),
      response_validation_(validation),
      nonces_(nonces),
      now_(std::move(now)) {
  // A response is made now; its age says nothing about a replay.
  response_validation_.check_timestamp_window = false;
  // A timestamp the server wrote itself needs no parsing.
  completed_response_validation_ = response_validation_;
  completed_response_validation_.check_timestamp_format = false;
}

absl::StatusOr<v1::Envelope> EnvelopeDispatcher::Dispatch(
    const v1::Envelope& request) const {
  absl::Time now = now_();
  if (absl::Status status = ValidateEnvelope(request, now, validation_);
      !status.ok()) {
    return status;
  }
  const Handler* handler = handlers_->Find(request.payload_type());
  if (handler == nullptr) {
    return AsapError(
        ErrorCode::kHandlerNotFound,
        absl::StrCat("no handler for payload_type '",
                     request.payload_type().substr(0, 64),
                     "' (this agent handles: ",
                     absl::StrJoin(handlers_->payload_types(), ", "), ")"));
  }
  if (nonces_ != nullptr && request.has_extensions()) {
    auto it = request.extensions().fields().find("nonce");
    if (it != request.extensions().fields().end()) {
      if (absl::Status status =
              nonces_->CheckAndRemember(it->second.string_value(), now);
          !status.ok()) {
        return status;
      }
    }
  }
  absl::StatusOr<v1::Envelope> response = (*handler)(request, *manifest_);
  if (!response.ok()) return response.status();
  bool handler_set_timestamp = !response->timestamp().empty();
  CompleteResponse(request, manifest_->id(), now, &*response);
  if (absl::Status status = ValidateEnvelope(
          *response, now,
          handler_set_timestamp ? response_validation_
                                : completed_response_validation_);
      !status.ok()) {
    return AsapError(
        ErrorCode::kInternal,
        absl::StrCat("the handler for '", request.payload_type(),
                     "' returned an invalid response: ", status.message()));
  }
  return response;
}

}  // namespace asap
