#include "asap/errors.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asap {
namespace {

// The absl::Status payload key under which the ASAP code travels in-process.
constexpr char kPayloadUrl[] = "type.asap.dev/asap.ErrorCode";
// ... and the retry-after hint, in milliseconds.
constexpr char kRetryAfterUrl[] = "type.asap.dev/asap.RetryAfterMillis";

struct CodeInfo {
  ErrorCode code;
  absl::string_view name;
  absl::StatusCode status;
};

constexpr CodeInfo kCodes[] = {
    {ErrorCode::kMalformedEnvelope, "asap:protocol/malformed_envelope",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidTimestamp, "asap:protocol/invalid_timestamp",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidNonce, "asap:protocol/invalid_nonce",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kMalformedManifest, "asap:protocol/malformed_manifest",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidState, "asap:protocol/invalid_state",
     absl::StatusCode::kFailedPrecondition},
    {ErrorCode::kTaskNotFound, "asap:task/not_found",
     absl::StatusCode::kNotFound},
    {ErrorCode::kTaskAlreadyCompleted, "asap:task/already_completed",
     absl::StatusCode::kFailedPrecondition},
    {ErrorCode::kHandlerNotFound, "asap:transport/handler_not_found",
     absl::StatusCode::kUnimplemented},
    {ErrorCode::kCircuitOpen, "asap:transport/circuit_open",
     absl::StatusCode::kUnavailable},
    {ErrorCode::kThreadPoolExhausted, "asap:transport/thread_pool_exhausted",
     absl::StatusCode::kResourceExhausted},
    {ErrorCode::kUnsupportedAuthScheme, "asap:auth/unsupported_scheme",
     absl::StatusCode::kUnauthenticated},
    {ErrorCode::kUnauthenticated, "asap:auth/unauthenticated",
     absl::StatusCode::kUnauthenticated},
    {ErrorCode::kSenderMismatch, "asap:auth/sender_mismatch",
     absl::StatusCode::kPermissionDenied},
    {ErrorCode::kForbidden, "asap:auth/forbidden",
     absl::StatusCode::kPermissionDenied},
    {ErrorCode::kRateLimited, "asap:transport/rate_limited",
     absl::StatusCode::kResourceExhausted},
    {ErrorCode::kPayloadTooLarge, "asap:transport/payload_too_large",
     absl::StatusCode::kResourceExhausted},
    {ErrorCode::kResourceExhausted, "asap:transport/resource_exhausted",
     absl::StatusCode::kResourceExhausted},
    {ErrorCode::kUnsupportedEncoding, "asap:transport/unsupported_encoding",
     absl::StatusCode::kUnimplemented},
    {ErrorCode::kCorruptBody, "asap:transport/corrupt_body",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kPoolExhausted, "asap:transport/pool_exhausted",
     absl::StatusCode::kResourceExhausted},
    {ErrorCode::kUnavailable, "asap:transport/unavailable",
     absl::StatusCode::kUnavailable},
    {ErrorCode::kDeadlineExceeded, "asap:transport/deadline_exceeded",
     absl::StatusCode::kDeadlineExceeded},
    {ErrorCode::kCancelled, "asap:transport/cancelled",
     absl::StatusCode::kCancelled},
    {ErrorCode::kInternal, "asap:internal/error", absl::StatusCode::kInternal},
};

const CodeInfo& InfoFor(ErrorCode code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return info;
  }
  return kCodes[sizeof(kCodes) / sizeof(kCodes[0]) - 1];
}

}  // namespace

absl::string_view ErrorCodeName(ErrorCode code) { return InfoFor(code).name; }

std::optional<ErrorCode> ParseErrorCode(absl::string_view name) {
  for (const CodeInfo& info : kCodes) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

absl::StatusCode StatusCodeFor(ErrorCode code) { return InfoFor(code).status; }

absl::Status AsapError(ErrorCode code, absl::string_view detail) {
  const CodeInfo& info = InfoFor(code);
  absl::Status status(info.status, absl::StrCat(info.name, ": ", detail));
  status.SetPayload(kPayloadUrl, absl::Cord(info.name));
  return status;
}

absl::Status WithRetryAfter(absl::Status status, absl::Duration delay) {
  if (status.ok()) return status;
  int64_t millis = std::max<int64_t>(0, absl::ToInt64Milliseconds(delay));
  status.SetPayload(kRetryAfterUrl, absl::Cord(absl::StrCat(millis)));
  return status;
}

std::optional<absl::Duration> RetryAfterOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kRetryAfterUrl);
  int64_t millis = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &millis) ||
      millis < 0) {
    return std::nullopt;
  }
  return absl::Milliseconds(millis);
}

int64_t RetryAfterSeconds(absl::Duration delay) {
  if (delay <= absl::ZeroDuration()) return 0;
  return absl::ToInt64Seconds(absl::Ceil(delay, absl::Seconds(1)));
}

std::optional<ErrorCode> ErrorCodeOf(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    if (auto code = ParseErrorCode(std::string(*payload))) return code;
  }
  absl::string_view message = status.message();
  if (absl::StartsWith(message, "asap:")) {
    size_t end = message.find(": ");
    if (auto code = ParseErrorCode(message.substr(0, end))) return code;
  }
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return ErrorCode::kUnavailable;
    case absl::StatusCode::kDeadlineExceeded:
      return ErrorCode::kDeadlineExceeded;
    case absl::StatusCode::kCancelled:
      return ErrorCode::kCancelled;
    case absl::StatusCode::kResourceExhausted:
      return ErrorCode::kPayloadTooLarge;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace asap
