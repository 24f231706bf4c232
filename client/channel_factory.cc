#include "client/channel_factory.h"

#include <grpc/compression.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace asap {

std::shared_ptr<grpc::Channel> CreateAsapChannel(
    const std::string& target, int pool_index,
    const ChannelSettings& settings) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("asap.pool_index", pool_index);
  args.SetMaxReceiveMessageSize(settings.max_message_bytes);
  args.SetMaxSendMessageSize(settings.max_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!settings.accept_grpc_compression) {
    args.SetInt(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
                1 << GRPC_COMPRESS_NONE);
  }
  auto credentials = grpc::InsecureChannelCredentials();
  if (settings.interceptors) {
    return grpc::experimental::CreateCustomChannelWithInterceptors(
        target, credentials, args, settings.interceptors());
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace asap
