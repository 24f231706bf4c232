// The seam between the HTTP transport (HTTP/1.1 and HTTP/2 connections,
// server/http/http_listener.h) and the application that answers requests
// (the JSON-RPC binding, server/http/json_rpc_service.h).
//
// The transport parses a request, bounds it (headers, body size) and hands
// it to an HttpApplication together with an HttpExchange, through which the
// application answers exactly once: with a whole response, or with a
// streamed one (Server-Sent Events). The application may answer from any
// thread, now or later.
#ifndef ASAP_SERVER_HTTP_HTTP_EXCHANGE_H_
#define ASAP_SERVER_HTTP_HTTP_EXCHANGE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace asap {

// Header fields in arrival order; names in lower case.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, for example "/asap"
  HttpHeaders headers;
  std::string body;  // as received (still compressed if it was sent so)
  std::string peer;  // "ipv4:127.0.0.1:53422"
  bool http2 = false;
  // True when the request arrived over TLS (HttpListenerOptions::tls).
  bool tls = false;
  // The URI subject alternative names (for example
  // "urn:asap:agent:tls-client") of the client's certificate, set only when
  // the listener requires client certificates (tls.client_ca_file) and this
  // one was verified against those CAs; the same for every request of the
  // connection. At most 16, each printable ASCII of at most 512 bytes
  // (other entries are left out). Empty otherwise.
  std::vector<std::string> peer_certificate_uris;

  // The first value of header `name` (lower case), if present.
  std::optional<absl::string_view> header(absl::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
  // The target without its query string.
  absl::string_view path() const {
    absl::string_view target_view = target;
    return target_view.substr(0, target_view.find('?'));
  }
};

struct HttpResponse {
  int status = 200;
  // Content-Length (and, on HTTP/1.1, Connection) are the transport's.
  HttpHeaders headers;
  std::string body;
};

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;

  // Answers with a whole response. Call at most once, and not after
  // StartStream.
  virtual void Respond(HttpResponse response) = 0;

  // Starts a streamed response (for example text/event-stream); the body
  // follows in Write calls and ends with Finish. On HTTP/1.1 it goes out
  // chunked, on HTTP/2 as DATA frames.
  virtual void StartStream(int status, HttpHeaders headers) = 0;
  // Queues `data` on the stream. Returns false once the peer is gone (the
  // data is then dropped) or when more than the transport's bound for one
  // stream is queued unsent: a peer that does not read cannot make the
  // server hold unbounded output. The stream is then reset.
  virtual bool Write(std::string data) = 0;
  // Ends the streamed response.
  virtual void Finish() = 0;

  // True once the peer closed the connection or reset the stream.
  virtual bool IsCancelled() const = 0;
};

class HttpApplication {
 public:
  virtual ~HttpApplication() = default;
  // Answers `request` through `exchange`, exactly once, from any thread.
  // Runs on a transport thread: it must not block.
  virtual void Handle(HttpRequest request,
                      std::shared_ptr<HttpExchange> exchange) = 0;
};

}  // namespace asap

#endif  // ASAP_SERVER_HTTP_HTTP_EXCHANGE_H_
