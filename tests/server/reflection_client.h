// Asks a server's gRPC reflection service for its services, as grpcurl
// does, for the tests that check reflection is (or is not) served.
#ifndef ASAP_TESTS_SERVER_REFLECTION_CLIENT_H_
#define ASAP_TESTS_SERVER_REFLECTION_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace asap::testing {

inline constexpr char kReflectionV1Alpha[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
inline constexpr char kReflectionV1[] =
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

struct ReflectionListing {
  grpc::Status status;                // how the stream ended
  std::vector<std::string> services;  // the names listed, if any
  int responses = 0;                  // messages the server sent
};

// One list_services("*") request on `method`, with a 20 s deadline.
ReflectionListing ListServices(const std::shared_ptr<grpc::Channel>& channel,
                               const std::string& method = kReflectionV1Alpha);

}  // namespace asap::testing

#endif  // ASAP_TESTS_SERVER_REFLECTION_CLIENT_H_
