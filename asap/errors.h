// The ASAP error taxonomy (`asap:<domain>/<error>`) and its mapping onto
// absl::Status and gRPC status codes.
//
// Every error asap returns is an absl::Status whose message starts with the
// ASAP code and which carries the code as a payload, so callers can branch on
// it:
//
// clang-format off
//   absl::Status status = asap::AsapError(asap::ErrorCode::kMalformedEnvelope,
//                                         "sender is not an agent URN");
//   // status.code() == absl::StatusCode::kInvalidArgument
//   // status.message() ==
//   //     "asap:protocol/malformed_envelope: sender is not an agent URN"
//   if (asap::ErrorCodeOf(status) == asap::ErrorCode::kMalformedEnvelope) ...
// clang-format on
//
// On the wire (docs/ERRORS.md) an ASAP error is a gRPC status with the mapped
// code, the same message, and the trailing metadata `asap-error-code: <code>`,
// so any gRPC client in any language can read it. ToGrpcStatus / FromGrpcStatus
// are the one place that converts between the two.
#ifndef ASAP_ERRORS_H_
#define ASAP_ERRORS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asap {

// ASAP error codes. The comment gives the wire name and the gRPC status code.
enum class ErrorCode {
  // asap:protocol/malformed_envelope, INVALID_ARGUMENT: a field is missing, has
  // the wrong type or format, or the JSON does not parse.
  kMalformedEnvelope,
  // asap:protocol/invalid_timestamp, INVALID_ARGUMENT: unparseable, older than
  // the allowed age (300 s) or too far in the future (30 s).
  kInvalidTimestamp,
  // asap:protocol/invalid_nonce, INVALID_ARGUMENT: extensions.nonce is not a
  // non-empty string, or it was seen before (a replay).
  kInvalidNonce,
  // asap:protocol/malformed_manifest, INVALID_ARGUMENT: a manifest that does
  // not
  // parse or lacks a required field.
  kMalformedManifest,
  // asap:protocol/invalid_state, FAILED_PRECONDITION: an illegal task
  // transition.
  kInvalidState,
  // asap:task/not_found, NOT_FOUND.
  kTaskNotFound,
  // asap:task/already_completed, FAILED_PRECONDITION.
  kTaskAlreadyCompleted,
  // asap:transport/handler_not_found, UNIMPLEMENTED: no handler for
  // payload_type.
  kHandlerNotFound,
  // asap:transport/circuit_open, UNAVAILABLE.
  kCircuitOpen,
  // asap:transport/thread_pool_exhausted, RESOURCE_EXHAUSTED.
  kThreadPoolExhausted,
  // asap:auth/unsupported_scheme, UNAUTHENTICATED.
  kUnsupportedAuthScheme,
  // asap:auth/unauthenticated, UNAUTHENTICATED: the call carries no
  // credentials, or credentials that are invalid, expired or not meant for
  // this agent.
  kUnauthenticated,
  // asap:auth/sender_mismatch, PERMISSION_DENIED: an envelope's sender is not
  // the authenticated identity of the call that carried it.
  kSenderMismatch,
  // asap:auth/forbidden, PERMISSION_DENIED: the authenticated caller may not
  // use this route (for example the metrics of a server whose
  // authentication is on).
  kForbidden,
  // asap:transport/payload_too_large, RESOURCE_EXHAUSTED: a message over the
  // size limit, also after decompression.
  kPayloadTooLarge,
  // asap:transport/resource_exhausted, RESOURCE_EXHAUSTED: the server is at
  // one of its resource bounds (memory quota, nonce store, streams); the
  // call may succeed later.
  kResourceExhausted,
  // asap:transport/rate_limited, RESOURCE_EXHAUSTED: the caller sent more
  // than its rate limit allows; RetryAfterOf tells when to try again.
  kRateLimited,
  // asap:transport/unsupported_encoding, UNIMPLEMENTED: a compression encoding
  // this peer does not support.
  kUnsupportedEncoding,
  // asap:transport/corrupt_body, INVALID_ARGUMENT: compressed data that does
  // not
  // decompress.
  kCorruptBody,
  // asap:transport/pool_exhausted, RESOURCE_EXHAUSTED: the client's channel
  // pool
  // had no capacity within pool_timeout.
  kPoolExhausted,
  // asap:transport/unavailable, UNAVAILABLE: the peer cannot be reached.
  kUnavailable,
  // asap:transport/deadline_exceeded, DEADLINE_EXCEEDED.
  kDeadlineExceeded,
  // asap:transport/cancelled, CANCELLED.
  kCancelled,
  // asap:internal/error, INTERNAL (or whatever code the status already had): a
  // failure with no more specific ASAP code, for example a handler's own error.
  kInternal,
};

// The wire name, for example "asap:protocol/malformed_envelope".
absl::string_view ErrorCodeName(ErrorCode code);

// Parses a wire name; nullopt when it is not an ASAP code this build knows.
std::optional<ErrorCode> ParseErrorCode(absl::string_view name);

// The absl status code an ASAP code maps to (see the enum comments).
absl::StatusCode StatusCodeFor(ErrorCode code);

// An error status: code StatusCodeFor(code), message "<wire name>: <detail>",
// and the ASAP code as a payload.
absl::Status AsapError(ErrorCode code, absl::string_view detail);

// The ASAP code of `status`: its payload if present, else the prefix of its
// message, else one derived from the status code (UNAVAILABLE ->
// kUnavailable, DEADLINE_EXCEEDED -> kDeadlineExceeded, CANCELLED ->
// kCancelled, RESOURCE_EXHAUSTED -> kPayloadTooLarge, others -> kInternal).
// nullopt for an OK status.
std::optional<ErrorCode> ErrorCodeOf(const absl::Status& status);

// `status` with a hint that the call may succeed after `delay` (rate limits,
// overload). Travels as gRPC trailing metadata `retry-after` and as HTTP's
// Retry-After header, in whole seconds rounded up.
absl::Status WithRetryAfter(absl::Status status, absl::Duration delay);
// The hint WithRetryAfter attached, if any.
std::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

// Whole seconds of a retry-after hint, rounded up (at least 1 for any
// positive delay), as Retry-After headers carry it.
int64_t RetryAfterSeconds(absl::Duration delay);

// The trailing metadata key that carries the ASAP code on the wire.
inline constexpr char kErrorCodeMetadataKey[] = "asap-error-code";
// ... and the retry-after hint, in whole seconds.
inline constexpr char kRetryAfterMetadataKey[] = "retry-after";

}  // namespace asap

#endif  // ASAP_ERRORS_H_
