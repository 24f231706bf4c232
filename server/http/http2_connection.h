// HTTP/2 connections of the transport (h2c with prior knowledge), on
// nghttp2's server session. Internal to the listener (see
// http_connection.h).
#ifndef ASAP_SERVER_HTTP_HTTP2_CONNECTION_H_
#define ASAP_SERVER_HTTP_HTTP2_CONNECTION_H_

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "server/http/http_connection.h"
#include "server/http/tls_context.h"

namespace asap {
namespace http_internal {

// The client connection preface that opens every HTTP/2 connection.
inline constexpr absl::string_view kHttp2Preface =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Serves HTTP/2 on `socket`, whose executor must be a strand of its own.
// `received` holds the bytes already read from it, starting with the
// preface, or nothing when ALPN chose "h2"; `info` describes the
// client.
void ServeHttp2(boost::asio::ip::tcp::socket socket, ConnectionSlot slot,
                std::string received, ConnectionInfo info);
// The same over TLS, after the handshake.
void ServeHttp2(TlsStream stream, ConnectionSlot slot, std::string received,
                ConnectionInfo info);

}  // namespace http_internal
}  // namespace asap

#endif  // ASAP_SERVER_HTTP_HTTP2_CONNECTION_H_
