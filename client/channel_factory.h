// CreateAsapChannel: the one place asap builds gRPC channels.
#ifndef ASAP_CLIENT_CHANNEL_FACTORY_H_
#define ASAP_CLIENT_CHANNEL_FACTORY_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asap/tls_options.h"

namespace asap {

using InterceptorFactories = std::vector<
    std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>;

struct ChannelSettings {
  // Largest message received or sent, in bytes.
  int max_message_bytes = 10 * 1024 * 1024;
  // Announce gRPC's own gzip/deflate in grpc-accept-encoding, so the server
  // may compress plain responses. Off means identity only.
  bool accept_grpc_compression = true;
  // Makes the client interceptors of each new channel (interceptor factories
  // are owned by one channel, so each channel gets fresh ones). May be empty.
  std::function<InterceptorFactories()> interceptors;
  // TLS credentials; null: plaintext. `server_name`, when set, is the name
  // the server's certificate is checked against instead of the target's.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string server_name;
};

// TLS channel credentials from `tls` (its PEM files read now), or
// InvalidArgument naming the file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const ClientTlsOptions& tls);

// A channel to `target` (plaintext unless settings.credentials) with its own
// TCP connection: `pool_index` becomes a channel argument and the subchannel
// pool is local to the channel, so channels of different indexes never share a
// connection (gRPC shares one connection between equal channels otherwise).
// Reconnection backoff is short (100 ms initial, 2 s max) so a restarted peer
// is reached again quickly; gRPC reconnects by itself, with that backoff, so
// a dead peer costs one connection attempt per backoff period, not one per
// call.
//
// A target with several addresses ("ipv4:10.0.0.1:50051,10.0.0.2:50051", or
// a DNS name with several A/AAAA records) is balanced with `round_robin`:
// the channel connects to every address and spreads calls over those that
// are connected and whose grpc.health.v1 status (service "") is SERVING, as
// kAsapServiceConfig says. A server shutting down reports NOT_SERVING and
// stops getting calls; one without the health service counts as serving
// when the client finds the Watch method unimplemented.
extern const char kAsapServiceConfig[];
std::shared_ptr<grpc::Channel> CreateAsapChannel(
    const std::string& target, int pool_index, const ChannelSettings& settings);

}  // namespace asap

#endif  // ASAP_CLIENT_CHANNEL_FACTORY_H_
