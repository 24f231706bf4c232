#include "tests/server/reflection_client.h"

#include <chrono>

#include "tests/server/reflection.grpc.pb.h"

namespace asap::testing {

ReflectionListing ListServices(const std::shared_ptr<grpc::Channel>& channel,
                               const std::string& method) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  const grpc::internal::RpcMethod rpc(
      method.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING);
  std::unique_ptr<
      grpc::ClientReaderWriter<reflection::ServerReflectionRequest,
                               reflection::ServerReflectionResponse>>
      stream(grpc::internal::ClientReaderWriterFactory<
             reflection::ServerReflectionRequest,
             reflection::ServerReflectionResponse>::Create(channel.get(), rpc,
                                                           &context));
  reflection::ServerReflectionRequest request;
  request.set_list_services("*");
  stream->Write(request);
  stream->WritesDone();
  ReflectionListing listing;
  reflection::ServerReflectionResponse response;
  while (stream->Read(&response)) {
    ++listing.responses;
    for (const auto& service : response.list_services_response().service()) {
      listing.services.push_back(service.name());
    }
  }
  listing.status = stream->Finish();
  return listing;
}

}  // namespace asap::testing
