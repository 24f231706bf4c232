#include "greeter_service.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "examples/echo_agent/echo_agent.h"

namespace consumer {

grpc::Status GreeterService::SayHello(grpc::ServerContext* /*context*/,
                                      const HelloRequest* request,
                                      HelloReply* reply) {
  if (request->name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "name is required");
  }
  reply->set_message(absl::StrCat("Hello, ", request->name(), "!"));
  if (request->has_details()) *reply->mutable_details() = request->details();
  return grpc::Status::OK;
}

absl::StatusOr<asap::v1::Envelope> GreetingHandler(
    const asap::v1::Envelope& request, const asap::v1::Manifest& manifest) {
  HelloRequest hello;
  if (absl::Status s = asap::FromJson(asap::ToJson(request.payload()), &hello,
                                      asap::ErrorCode::kMalformedEnvelope);
      !s.ok()) {
    return s;
  }
  GreeterService greeter;
  HelloReply reply;
  if (grpc::Status s = greeter.SayHello(nullptr, &hello, &reply); !s.ok()) {
    return asap::AsapError(asap::ErrorCode::kMalformedEnvelope,
                           s.error_message());
  }
  asap::v1::Envelope response;
  response.set_payload_type(kGreetingResponse);
  if (absl::Status s =
          asap::FromJson(asap::ToJson(reply), response.mutable_payload(),
                         asap::ErrorCode::kInternal);
      !s.ok()) {
    return s;
  }
  (*response.mutable_payload()->mutable_fields())["greeter"].set_string_value(
      manifest.id());
  return response;
}

asap::v1::Manifest GreeterManifest() {
  asap::v1::Manifest manifest = asap::examples::EchoManifest("");
  manifest.set_id(kAgentId);
  manifest.set_name("Consumer Greeter");
  manifest.set_description("Greets by name; echoes tasks.");
  asap::v1::Skill* skill = manifest.mutable_capabilities()->add_skills();
  skill->set_id("greet");
  skill->set_description("Answers greeting.request with a greeting");
  return manifest;
}

}  // namespace consumer
