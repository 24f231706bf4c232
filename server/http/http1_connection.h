// HTTP/1.1 (and 1.0) connections of the transport, on Boost.Beast's parser.
// Internal to the listener (see http_connection.h).
#ifndef ASAP_SERVER_HTTP_HTTP1_CONNECTION_H_
#define ASAP_SERVER_HTTP_HTTP1_CONNECTION_H_

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "server/http/http_connection.h"
#include "server/http/tls_context.h"

namespace asap {
namespace http_internal {

// Serves HTTP/1.x on `socket`, whose executor must be a strand of its own.
// `received` holds the bytes already read from it (while the listener
// looked for the HTTP/2 preface); `info` describes the client.
void ServeHttp1(boost::asio::ip::tcp::socket socket, ConnectionSlot slot,
                std::string received, ConnectionInfo info);
// The same over TLS, after the handshake.
void ServeHttp1(TlsStream stream, ConnectionSlot slot, std::string received,
                ConnectionInfo info);

}  // namespace http_internal
}  // namespace asap

#endif  // ASAP_SERVER_HTTP_HTTP1_CONNECTION_H_
