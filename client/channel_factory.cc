#include "client/channel_factory.h"

#include <grpc/compression.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace asap {

const char kAsapServiceConfig[] =
    R"({"loadBalancingConfig":[{"round_robin":{}}],)"
    R"("healthCheckConfig":{"serviceName":""}})";

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
  // Every address of the target gets calls in turn, except those whose
  // grpc.health.v1 status is not SERVING. The resolver's own service config
  // (DNS TXT records) is ignored, so this one always applies.
  args.SetServiceConfigJSON(kAsapServiceConfig);
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  if (!settings.accept_grpc_compression) {
    args.SetInt(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
                1 << GRPC_COMPRESS_NONE);
  }
  if (!settings.server_name.empty()) {
    args.SetSslTargetNameOverride(settings.server_name);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      settings.credentials != nullptr ? settings.credentials
                                      : grpc::InsecureChannelCredentials();
  if (settings.interceptors) {
    return grpc::experimental::CreateCustomChannelWithInterceptors(
        target, credentials, args, settings.interceptors());
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials(
    const ClientTlsOptions& tls) {
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(tls.ca_file, "tls.ca_file");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadPemFile(tls.cert_file, "tls.cert_file");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPemFile(tls.key_file, "tls.key_file");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace asap
