// AsapServer: an ASAP agent served over gRPC.
//
//   asap::HandlerRegistry handlers;
//   handlers.Register("task.request", MyTaskHandler);
//   asap::ServerOptions options;
//   options.address = "127.0.0.1:0";          // port 0 picks a free port
//   options.manifest = my_manifest;
//   absl::StatusOr<std::unique_ptr<asap::AsapServer>> server =
//       asap::AsapServer::Start(std::move(options), std::move(handlers));
//   if (!server.ok()) return server.status();
//   std::cout << "listening on " << (*server)->address() << "\n";
//   (*server)->Wait();
//
// The server implements asap.v1.AsapService (Send, GetManifest, SendBatch), the
// standard gRPC health service (grpc.health.v1.Health) and server reflection,
// so grpcurl and any gRPC client can talk to it. Every envelope goes through
// EnvelopeDispatcher: validation, replay check, handler, response completion.
// Errors travel as described in asap/grpc_status.h.
#ifndef ASAP_SERVER_ASAP_SERVER_H_
#define ASAP_SERVER_ASAP_SERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/v1/manifest.pb.h"
#include "server/handler_registry.h"

namespace asap {

struct ServerOptions {
  // host:port to listen on; port 0 picks a free port (see AsapServer::port()).
  std::string address = "127.0.0.1:0";
  // The manifest served by GetManifest. It must pass ValidateManifest; an
  // empty endpoints.asap (or one on port 0) is set to the bound address.
  v1::Manifest manifest;
  // Largest request message accepted, in bytes (10 MB, as the reference).
  // Bigger messages fail with RESOURCE_EXHAUSTED
  // (asap:transport/payload_too_large).
  int max_message_bytes = 10 * 1024 * 1024;
  // Responses at least this large are compressed: SendCompressed answers in
  // an encoding the client accepts, plain Send answers with gRPC's gzip when
  // the client announces it. Requests are decompressed up to
  // max_message_bytes.
  size_t compression_threshold_bytes = 1024;
  // Envelope validation rules (timestamp window, payload schemas).
  ValidationOptions validation;
  // When positive, GetManifest answers carry this as a TTL hint (initial
  // metadata `asap-manifest-max-age`, whole seconds): caching clients keep the
  // manifest at most this long. Zero sends no hint.
  absl::Duration manifest_max_age = absl::ZeroDuration();
  // Refuse an envelope whose extensions.nonce was seen within the timestamp
  // window (asap:protocol/invalid_nonce).
  bool reject_replayed_nonces = true;
  // Threads that run SendBatch frames (handlers of one batch run concurrently
  // on them); 0 = the number of cores, at least 2.
  int batch_workers = 0;
  // Serve grpc.health.v1.Health and server reflection.
  bool enable_health_service = true;
  bool enable_reflection = true;
  // gRPC server interceptors, run on every call in order (for example
  // PeerCounter, server/peer_counter.h).
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
};

class AsapServer {
 public:
  // Starts serving `handlers` on options.address. Returns InvalidArgument for
  // an invalid manifest or options, Unavailable when the address cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<AsapServer>> Start(
      ServerOptions options, HandlerRegistry handlers);

  AsapServer(const AsapServer&) = delete;
  AsapServer& operator=(const AsapServer&) = delete;
  // Shuts down (as Shutdown()) and waits.
  ~AsapServer();

  // The port actually bound.
  int port() const;
  // host:port actually bound, for example "127.0.0.1:43511".
  std::string address() const;

  // Stops accepting calls and lets calls in flight finish; calls still running
  // after `grace` are cancelled. Health turns NOT_SERVING first. Safe to call
  // more than once and from any thread.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // Blocks until the server has shut down.
  void Wait();

 private:
  class Impl;
  explicit AsapServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asap

#endif  // ASAP_SERVER_ASAP_SERVER_H_
