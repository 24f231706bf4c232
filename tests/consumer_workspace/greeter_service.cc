#include "greeter_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"

namespace consumer {

absl::StatusOr<HelloReply> Greeting(const HelloRequest& request) {
  if (request.name().empty()) {
    return absl::InvalidArgumentError("name is required");
  }
  HelloReply reply;
  reply.set_message(absl::StrCat("Hello, ", request.name(), "!"));
  if (request.has_details()) *reply.mutable_details() = request.details();
  return reply;
}

grpc::Status GreeterService::SayHello(grpc::ServerContext* /*context*/,
                                      const HelloRequest* request,
                                      HelloReply* reply) {
  absl::StatusOr<HelloReply> greeting = Greeting(*request);
  if (!greeting.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(greeting.status().message()));
  }
  *reply = *std::move(greeting);
  return grpc::Status::OK;
}

absl::StatusOr<HelloReply> GreeterAgentImpl::Greet(
    const asap::HandlerContext&, const HelloRequest& request) {
  absl::StatusOr<HelloReply> greeting = Greeting(request);
  if (!greeting.ok()) {
    return asap::AsapError(
        asap::ErrorCode::kMalformedEnvelope,
        absl::StrCat("input.name: ", greeting.status().message()));
  }
  return greeting;
}

}  // namespace consumer
