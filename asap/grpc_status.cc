#include "asap/grpc_status.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace asap {

grpc::Status ToGrpcStatus(const absl::Status& status,
                          grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  std::optional<ErrorCode> code = ErrorCodeOf(status);
  std::string message(status.message());
  if (code && !absl::StartsWith(message, "asap:")) {
    message = absl::StrCat(ErrorCodeName(*code), ": ", message);
  }
  if (code && context != nullptr) {
    context->AddTrailingMetadata(kErrorCodeMetadataKey,
                                 std::string(ErrorCodeName(*code)));
  }
  if (std::optional<absl::Duration> delay = RetryAfterOf(status);
      delay && context != nullptr) {
    context->AddTrailingMetadata(kRetryAfterMetadataKey,
                                 absl::StrCat(RetryAfterSeconds(*delay)));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            const grpc::ClientContext* context) {
  if (status.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.error_code());
  const std::string& message = status.error_message();
  std::optional<ErrorCode> asap_code;
  std::optional<absl::Duration> retry_after;
  if (context != nullptr) {
    const auto& trailers = context->GetServerTrailingMetadata();
    auto it = trailers.find(kErrorCodeMetadataKey);
    if (it != trailers.end()) {
      asap_code = ParseErrorCode(
          absl::string_view(it->second.data(), it->second.size()));
    }
    it = trailers.find(kRetryAfterMetadataKey);
    int64_t seconds = 0;
    // A hostile server's hint is bounded: at most an hour.
    if (it != trailers.end() &&
        absl::SimpleAtoi(
            absl::string_view(it->second.data(), it->second.size()),
            &seconds) &&
        seconds >= 0 && seconds <= 3600) {
      retry_after = absl::Seconds(seconds);
    }
  }
  if (!asap_code) asap_code = ErrorCodeOf(absl::Status(code, message));
  absl::string_view name = ErrorCodeName(*asap_code);
  std::string detail = absl::StartsWith(message, name)
                           ? message
                           : absl::StrCat(name, ": ", message);
  absl::Status result(code, detail);
  // Re-create the payload through AsapError so ErrorCodeOf is exact.
  absl::Status with_payload = AsapError(*asap_code, "");
  with_payload.ForEachPayload(
      [&result](absl::string_view url, const absl::Cord& payload) {
        result.SetPayload(url, payload);
      });
  if (retry_after) return WithRetryAfter(std::move(result), *retry_after);
  return result;
}

}  // namespace asap
