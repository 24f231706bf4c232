// The TLS side of the HTTP transport's listener: the server's OpenSSL
// context built from ServerTlsOptions, and what a connection learns from its
// handshake (the negotiated application protocol, the client certificate's
// URIs). Internal to the listener (see http_connection.h).
#ifndef ASAP_SERVER_HTTP_TLS_CONTEXT_H_
#define ASAP_SERVER_HTTP_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/tls_options.h"

namespace asap {
namespace http_internal {

// The stream of a connection on a TLS listener.
using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// An immutable server TLS context: TLS 1.2 or newer, forward-secret AEAD
// cipher suites, no compression, no renegotiation, ALPN choosing "h2" over
// "http/1.1" (a client offering neither fails the handshake), and, with
// ServerTlsOptions::client_ca_file, a required client certificate signed by
// one of those CAs. Thread-safe: any number of connections are made from it
// at once (SSL_new only reads it).
class ServerTlsContext {
 public:
  // Reads the PEM files named in `options` and checks that the key matches
  // the certificate. InvalidArgument names the option whose file is missing,
  // unreadable or unusable.
  static absl::StatusOr<std::shared_ptr<ServerTlsContext>> Create(
      const ServerTlsOptions& options);

  ServerTlsContext(const ServerTlsContext&) = delete;
  ServerTlsContext& operator=(const ServerTlsContext&) = delete;

  // For ssl::stream's constructor, which takes a non-const reference; the
  // context is not changed after Create.
  boost::asio::ssl::context& context() { return context_; }
  // Whether client certificates are required and verified.
  bool verifies_clients() const { return verifies_clients_; }

 private:
  // Takes ownership of `native`.
  explicit ServerTlsContext(SSL_CTX* native);

  boost::asio::ssl::context context_;
  bool verifies_clients_ = false;
};

// The protocol ALPN selected in `ssl`'s handshake ("h2", "http/1.1"), or
// empty when the client offered none.
absl::string_view SelectedAlpn(const SSL* ssl);

// The URI subject alternative names of the client certificate of `ssl`'s
// completed handshake, when `verified_context` (the client certificate was
// required and checked) and the check passed; otherwise empty. Bounded as
// CertificateUris (server/security/certificate_uris.h) says.
std::vector<std::string> VerifiedPeerCertificateUris(const SSL* ssl,
                                                     bool verified_context);

}  // namespace http_internal
}  // namespace asap

#endif  // ASAP_SERVER_HTTP_TLS_CONTEXT_H_
