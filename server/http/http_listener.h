// The HTTP transport of the server: one TCP port that speaks HTTP/1.1 (and
// 1.0) and HTTP/2, and hands every request to an HttpApplication
// (server/http/http_exchange.h).
//
// Without TLS (the default), the first bytes of a connection decide its
// protocol: the HTTP/2 client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
// selects HTTP/2 with prior knowledge (h2c, nghttp2), anything else HTTP/1.1
// (Boost.Beast). With HttpListenerOptions::tls, every connection starts with
// a TLS handshake and ALPN decides: "h2" selects HTTP/2, "http/1.1" (or no
// ALPN at all) HTTP/1.1, where a client without ALPN may still open with the
// HTTP/2 preface. Every limit in HttpListenerOptions holds whatever a client
// sends, so the memory one connection can make the server hold is bounded.
//
// Example:
//
//   asap::HttpListenerOptions options;
//   options.address = "0.0.0.0:8443";
//   options.tls.cert_file = "server.pem";  // optional: HTTPS (h2 and http/1.1)
//   options.tls.key_file = "server.key";
//   absl::StatusOr<std::unique_ptr<asap::HttpListener>> listener =
//       asap::HttpListener::Start(options, &application);
//   if (!listener.ok()) return listener.status();
//   ...
//   // After the certificate files were replaced:
//   absl::Status reloaded = (*listener)->ReloadTls();
//   ...
//   (*listener)->Shutdown(absl::Seconds(5));
#ifndef ASAP_SERVER_HTTP_HTTP_LISTENER_H_
#define ASAP_SERVER_HTTP_HTTP_LISTENER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asap/tls_options.h"
#include "server/http/http_exchange.h"

namespace asap {

namespace http_internal {
class ListenerCore;
}  // namespace http_internal

struct HttpListenerOptions {
  // host:port to listen on; port 0 picks a free port (see HttpListener::port).
  std::string address = "127.0.0.1:0";
  // Threads that run the connections' I/O and call HttpApplication::Handle.
  int threads = 2;
  // Largest request body, as received on the wire (compressed or not). A
  // larger body is answered with 413 and a JSON body
  // {"detail":"Request body too large: ..."}; on HTTP/1.1 the connection is
  // then closed.
  size_t max_body_bytes = 10 * 1024 * 1024;
  // Largest request head (request line and header fields; on HTTP/2 the
  // decoded header list). Larger: 431.
  size_t max_header_bytes = 16 * 1024;
  // The whole request head must arrive within this, counted from its first
  // byte (slowloris); else the connection is closed. On a TLS listener it
  // also bounds each connection's handshake.
  absl::Duration header_timeout = absl::Seconds(10);
  // The whole request body must arrive within this, counted from the end of
  // the head; else the connection (HTTP/2: the stream) is closed.
  absl::Duration body_timeout = absl::Seconds(60);
  // A connection with no request in progress is closed after this.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Connections beyond this are accepted and closed at once.
  int max_connections = 4096;
  // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: also the bound on unanswered
  // requests per HTTP/2 connection (HTTP/1.1 connections have at most one).
  uint32_t max_concurrent_streams = 100;
  // The total of request bodies being received or held by the transport,
  // across all connections and streams (like the ResourceQuota of gRPC's
  // transport): every body otherwise bounded by max_body_bytes on every
  // connection and stream could add up to far more memory than the server
  // has. A body that declares its length (Content-Length) reserves it before
  // it is read; one that does not (chunked, HTTP/2 without content-length)
  // reserves in 64 KiB steps as it arrives. A request that does not fit is
  // answered at once with 503, Retry-After: 1 and a JSON body
  // {"error":"Service Unavailable","code":"asap:transport/resource_exhausted",
  // "message":...}, and its body is not read (HTTP/1.1: the connection is
  // then closed; HTTP/2: the stream is reset with NO_ERROR). A body's bytes
  // count until its exchange is answered (HttpExchange::Respond or Finish)
  // or dropped, or, before it reaches the application, until the request is
  // refused or its stream or connection ends. 0 = unbounded.
  size_t max_buffered_body_bytes = 256u << 20;
  // Unsent output of one streamed response; past it HttpExchange::Write
  // returns false and the stream (HTTP/1.1: the connection) is reset.
  size_t max_stream_buffer_bytes = 4 * 1024 * 1024;
  // TLS on every connection when tls.enabled() (cert_file and key_file, PEM;
  // the certificate file may carry the rest of the chain after it). TLS 1.2
  // or newer, forward-secret AEAD cipher suites, no compression and no
  // renegotiation; ALPN prefers "h2" to "http/1.1", and a client that offers
  // ALPN without either fails the handshake. The handshake must complete
  // within header_timeout; a client that fails it (plaintext HTTP, an old
  // TLS version, no acceptable certificate) is closed with at most a TLS
  // alert, never an HTTP answer, and counted in
  // Stats::tls_handshake_failures.
  // With tls.client_ca_file (PEM bundle), a client must present a
  // certificate that chains to one of those CAs and is valid for client
  // authentication, else the handshake fails; its URI subject alternative
  // names then reach the application in HttpRequest::peer_certificate_uris.
  // The files are read by Start (an unreadable or unusable file, or a key
  // that does not match the certificate, is InvalidArgument) and again by
  // ReloadTls.
  ServerTlsOptions tls;
};

class HttpListener {
 public:
  // Binds options.address and starts serving with options.threads threads.
  // `app` is not owned and must outlive the listener. Returns
  // InvalidArgument for a malformed address or option, and Unavailable when
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpListener>> Start(
      HttpListenerOptions options, HttpApplication* app);

  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;
  // Shutdown(absl::ZeroDuration()) unless Shutdown was called before.
  ~HttpListener();

  // The bound port and "host:port" address.
  int port() const;
  std::string address() const;

  // Stops accepting, lets the responses in flight finish for up to `grace`
  // (new requests on open connections are refused: HTTP/1.1 connections
  // close after their current response, HTTP/2 connections get GOAWAY), then
  // closes every connection and joins the threads. Exchanges still held by
  // the application become no-ops (IsCancelled() is true). Idempotent and
  // thread-safe; blocks until done, so it must not be called from inside
  // HttpApplication::Handle.
  void Shutdown(absl::Duration grace);

  // Re-reads the files named in HttpListenerOptions::tls (certificate, key,
  // client CAs) and uses them for the connections accepted from now on;
  // connections already open keep the certificate and CAs they started with,
  // and their requests in flight continue. On error (InvalidArgument naming
  // the unreadable or unusable file, or a key that does not match the
  // certificate) nothing changes and the previous files keep serving.
  // FailedPrecondition on a listener without TLS. Thread-safe. Each file is
  // read once, so a reload that runs between the replacement of the
  // certificate and that of its key fails (the key does not match) and
  // changes nothing; replacing each file by rename keeps a reload from ever
  // seeing a file half written.
  absl::Status ReloadTls();

  struct Stats {
    uint64_t connections_accepted = 0;  // including those refused at the limit
    uint64_t connections_open = 0;
    uint64_t requests = 0;  // handed to the application
    uint64_t http2_connections = 0;
    // Bytes of request bodies counted against max_buffered_body_bytes now.
    uint64_t body_bytes_buffered = 0;
    // Requests answered 503 because their body did not fit in it.
    uint64_t requests_refused_busy = 0;
    // Connections closed because their TLS handshake failed or did not
    // complete within header_timeout (TLS listeners only).
    uint64_t tls_handshake_failures = 0;
  };
  Stats stats() const;

 private:
  explicit HttpListener(std::shared_ptr<http_internal::ListenerCore> core);

  std::shared_ptr<http_internal::ListenerCore> core_;
};

}  // namespace asap

#endif  // ASAP_SERVER_HTTP_HTTP_LISTENER_H_
