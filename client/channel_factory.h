// CreateAsapChannel: the one place asap builds gRPC channels.
#ifndef ASAP_CLIENT_CHANNEL_FACTORY_H_
#define ASAP_CLIENT_CHANNEL_FACTORY_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/client_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

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
};

// An insecure channel to `target` with its own TCP connection: `pool_index`
// becomes a channel argument and the subchannel pool is local to the channel,
// so channels of different indexes never share a connection (gRPC shares one
// connection between equal channels otherwise). Reconnection backoff is short
// (100 ms initial, 2 s max) so a restarted peer is reached again quickly.
std::shared_ptr<grpc::Channel> CreateAsapChannel(
    const std::string& target, int pool_index, const ChannelSettings& settings);

}  // namespace asap

#endif  // ASAP_CLIENT_CHANNEL_FACTORY_H_
