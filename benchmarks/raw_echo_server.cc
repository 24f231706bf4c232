// The baseline of //benchmarks:server_benchmark: a plain gRPC callback server
// for asap.v1.AsapService.Send that answers exactly as the echo agent does
// (server/echo_skill.h's EchoTask, then CompleteResponse: id, timestamp,
// asap_version, correlation_id, sender, recipient) but without what asap adds
// around it: no validation, no replay check, no dispatcher, no interceptors,
// health or reflection. The other methods are left unimplemented.
//
//   raw_echo_server [PORT]     # 0 (default) picks a free port
//
// Prints "listening on 127.0.0.1:PORT" once it serves; SIGINT/SIGTERM stop it.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "asap/envelope.h"
#include "asap/v1/service.grpc.pb.h"
#include "server/echo_skill.h"
#include "server/shutdown_signals.h"

namespace asap::bench {
namespace {

// AsapServer's default message limit, so both servers accept the same sizes.
constexpr int kMaxMessageBytes = 10 * 1024 * 1024;

class RawEchoService final : public v1::AsapService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* context,
                                 const v1::Envelope* request,
                                 v1::Envelope* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Echo(*request, response));
    return reactor;
  }

 private:
  grpc::Status Echo(const v1::Envelope& request, v1::Envelope* response) {
    // EchoTask relies on validation having checked that `input` exists; this
    // one check keeps a malformed request from aborting the process.
    const auto& fields = request.payload().fields();
    if (fields.find("input") == fields.end()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "payload.input is missing");
    }
    absl::StatusOr<v1::Envelope> echoed = asap::EchoTask(request, manifest_);
    if (!echoed.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          std::string(echoed.status().message()));
    }
    *response = *std::move(echoed);
    CompleteResponse(request, manifest_.id(), absl::Now(), response);
    return grpc::Status::OK;
  }

  const v1::Manifest manifest_ = asap::EchoManifest("");
};

int Main(int argc, char** argv) {
  // Block SIGINT/SIGTERM before gRPC starts its threads.
  ShutdownSignals signals;
  std::string host_port = "127.0.0.1:" + std::string(argc > 1 ? argv[1] : "0");

  RawEchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(host_port, grpc::InsecureServerCredentials(), &port);
  // As AsapServer: never share a port with another server through
  // SO_REUSEPORT.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "raw echo server: cannot listen on " << host_port << "\n";
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << port << std::endl;

  signals.Wait();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace asap::bench

int main(int argc, char** argv) { return asap::bench::Main(argc, argv); }
