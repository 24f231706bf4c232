// TLS settings of servers (ServerOptions::tls) and clients
// (ClientOptions::tls), and reading their PEM files.
//
//   asap::ServerTlsOptions tls;
//   tls.cert_file = "server.pem";      // certificate chain, PEM
//   tls.key_file = "server.key";       // its private key, PEM
//   tls.client_ca_file = "ca.pem";     // optional: require client certificates
//
//   asap::ClientTlsOptions tls;
//   tls.enabled = true;
//   tls.ca_file = "ca.pem";            // roots to trust; empty: the system's
//   tls.cert_file = "client.pem";      // optional: a client certificate
//   tls.key_file = "client.key";
#ifndef ASAP_TLS_OPTIONS_H_
#define ASAP_TLS_OPTIONS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asap {

struct ServerTlsOptions {
  // The server's certificate chain and private key, PEM. Setting both turns
  // TLS on (TLS 1.2 or newer); plaintext clients are then refused.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle. When set, a client must present a certificate signed by
  // one of these CAs (mutual TLS), or the handshake fails.
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

struct ClientTlsOptions {
  // Connect with TLS (gRPC targets; an https:// target always does).
  bool enabled = false;
  // PEM roots the server's certificate must chain to; empty: the system's.
  std::string ca_file;
  // A client certificate and its key, PEM, for servers that ask for one.
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry, when it is not the
  // target's host (a test certificate for "localhost" reached by address).
  std::string server_name;
};

// Reads a PEM file named by `option` (for messages): InvalidArgument when it
// cannot be read, is over 1 MiB, or holds no PEM block.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view option);

// InvalidArgument naming the option when a file is missing or a required
// partner is not set (a certificate without its key, say).
absl::Status ValidateServerTlsOptions(const ServerTlsOptions& tls);
absl::Status ValidateClientTlsOptions(const ClientTlsOptions& tls);

}  // namespace asap

#endif  // ASAP_TLS_OPTIONS_H_
