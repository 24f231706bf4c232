#include "asap/errors.h"

#include <grpcpp/grpcpp.h>

#include "asap/grpc_status.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

TEST(ErrorsTest, MessageStartsWithWireName) {
  absl::Status status =
      AsapError(ErrorCode::kMalformedEnvelope, "sender is missing");
  EXPECT_EQ(status.message(),
            "asap:protocol/malformed_envelope: sender is missing");
}

TEST(ErrorsTest, MapsProtocolCodesToGrpcCodes) {
  EXPECT_EQ(StatusCodeFor(ErrorCode::kMalformedEnvelope),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kInvalidTimestamp),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kInvalidState),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kTaskNotFound),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kHandlerNotFound),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kCircuitOpen),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kThreadPoolExhausted),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusCodeFor(ErrorCode::kUnsupportedAuthScheme),
            absl::StatusCode::kUnauthenticated);
}

TEST(ErrorsTest, WireNamesRoundTrip) {
  for (ErrorCode code :
       {ErrorCode::kMalformedEnvelope, ErrorCode::kInvalidTimestamp,
        ErrorCode::kInvalidNonce, ErrorCode::kInvalidState,
        ErrorCode::kTaskNotFound, ErrorCode::kTaskAlreadyCompleted,
        ErrorCode::kHandlerNotFound, ErrorCode::kCircuitOpen,
        ErrorCode::kThreadPoolExhausted, ErrorCode::kUnsupportedAuthScheme,
        ErrorCode::kPayloadTooLarge, ErrorCode::kPoolExhausted}) {
    EXPECT_EQ(ParseErrorCode(ErrorCodeName(code)), code);
  }
  EXPECT_EQ(ParseErrorCode("asap:nope/nope"), std::nullopt);
}

TEST(ErrorsTest, ErrorCodeOfReadsPayloadMessagePrefixOrStatusCode) {
  EXPECT_EQ(ErrorCodeOf(AsapError(ErrorCode::kTaskNotFound, "t1")),
            ErrorCode::kTaskNotFound);
  EXPECT_EQ(ErrorCodeOf(absl::NotFoundError("asap:task/not_found: t1")),
            ErrorCode::kTaskNotFound);
  EXPECT_EQ(ErrorCodeOf(absl::UnavailableError("connection refused")),
            ErrorCode::kUnavailable);
  EXPECT_EQ(ErrorCodeOf(absl::DeadlineExceededError("late")),
            ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(ErrorCodeOf(absl::UnknownError("?")), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeOf(absl::OkStatus()), std::nullopt);
}

TEST(GrpcStatusTest, KeepsCodeAndMessageBothWays) {
  absl::Status original = AsapError(ErrorCode::kHandlerNotFound, "no x");
  grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(wire.error_message(), "asap:transport/handler_not_found: no x");
  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back.code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(back.message(), original.message());
  EXPECT_EQ(ErrorCodeOf(back), ErrorCode::kHandlerNotFound);
}

TEST(GrpcStatusTest, PrefixesPlainHandlerErrors) {
  grpc::Status wire = ToGrpcStatus(absl::InternalError("disk on fire"));
  EXPECT_EQ(wire.error_message(), "asap:internal/error: disk on fire");
}

TEST(GrpcStatusTest, GrpcOwnErrorsGetATransportCode) {
  absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "asap:transport/unavailable: failed to connect");
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kUnavailable);
}

TEST(GrpcStatusTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace asap
