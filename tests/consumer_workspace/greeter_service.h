// The consumer's Greeter service, and an ASAP handler built on it.
#ifndef CONSUMER_GREETER_SERVICE_H_
#define CONSUMER_GREETER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "greeter.grpc.pb.h"

namespace consumer {

inline constexpr char kGreetingRequest[] = "greeting.request";
inline constexpr char kGreetingResponse[] = "greeting.response";
inline constexpr char kAgentId[] = "urn:asap:agent:consumer-greeter";

// Greeter: "Hello, <name>!", with the request's details sent back.
class GreeterService final : public Greeter::Service {
 public:
  grpc::Status SayHello(grpc::ServerContext* context,
                        const HelloRequest* request,
                        HelloReply* reply) override;
};

// The ASAP handler for greeting.request: the payload is a HelloRequest in
// JSON; the greeting.response payload is GreeterService's HelloReply in JSON.
// A payload that is not a HelloRequest, or has no name, is
// asap:protocol/malformed_envelope.
absl::StatusOr<asap::v1::Envelope> GreetingHandler(
    const asap::v1::Envelope& request, const asap::v1::Manifest& manifest);

// The echo agent's manifest under this agent's id, with a "greet" skill.
asap::v1::Manifest GreeterManifest();

}  // namespace consumer

#endif  // CONSUMER_GREETER_SERVICE_H_
