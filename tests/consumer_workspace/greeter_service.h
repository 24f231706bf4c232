// The consumer's greeting, served two ways: as its plain gRPC Greeter
// service, and as the typed ASAP agent generated from greeter_agent.proto.
#ifndef CONSUMER_GREETER_SERVICE_H_
#define CONSUMER_GREETER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "greeter.grpc.pb.h"
#include "greeter_agent.asap.h"

namespace consumer {

// "Hello, <name>!" with the request's details; InvalidArgument without a
// name.
absl::StatusOr<HelloReply> Greeting(const HelloRequest& request);

// The gRPC service.
class GreeterService final : public Greeter::Service {
 public:
  grpc::Status SayHello(grpc::ServerContext* context,
                        const HelloRequest* request,
                        HelloReply* reply) override;
};

// The ASAP agent: skill "greet". A request without a name is
// asap:protocol/malformed_envelope.
class GreeterAgentImpl final : public GreeterAgent::Service {
 public:
  absl::StatusOr<HelloReply> Greet(const asap::HandlerContext& context,
                                   const HelloRequest& request) override;
};

}  // namespace consumer

#endif  // CONSUMER_GREETER_SERVICE_H_
