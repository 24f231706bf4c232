// The HTTP binding of an asap server: ASAP's JSON-RPC 2.0 routes over the
// HTTP transport (server/http/http_listener.h), on the same dispatcher,
// handlers, limits and nonce store as the gRPC binding, so an envelope gets
// the same answer on either.
//
// Routes:
//   POST /asap                      asap.send, or a v2 batch array (<= 50)
//   POST /asap/stream               the same request answered as Server-Sent
//                                   Events: intermediate envelopes, then the
//                                   final one (payload.final true); with
//                                   Last-Event-ID it resumes a stream instead
//   GET  /asap/stream               resumes with Last-Event-ID (EventSource)
//   GET|HEAD /.well-known/asap/manifest.json   ETag, Cache-Control, 304
//   GET  /health, /ready, /.well-known/asap/health
//   GET  /asap/metrics              Prometheus text
#ifndef ASAP_SERVER_HTTP_JSON_RPC_SERVICE_H_
#define ASAP_SERVER_HTTP_JSON_RPC_SERVICE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "server/http/http_exchange.h"
#include "server/http/json_rpc.h"
#include "server/http/stream_log.h"
#include "server/service_core.h"

namespace asap {

struct JsonRpcServiceOptions {
  // Requests in one v2 batch array.
  size_t max_batch_items = 50;
  // Cache-Control max-age of the manifest route.
  absl::Duration manifest_max_age = absl::Minutes(5);
  // How long finished streams stay resumable, and their bounds.
  StreamLogOptions stream_log;
  // Bodies larger than this are decoded and parsed on a handler thread
  // rather than on the network thread that read them.
  size_t inline_parse_bytes = 64 * 1024;
};

class JsonRpcService : public HttpApplication {
 public:
  // `core` must outlive the service; its manifest must be final (the bound
  // address filled in).
  JsonRpcService(ServiceCore core, JsonRpcServiceOptions options);
  ~JsonRpcService() override;

  void Handle(HttpRequest request,
              std::shared_ptr<HttpExchange> exchange) override;

  // While false, /ready answers 503 (set when the server starts shutting
  // down, so load balancers stop sending new work).
  void set_serving(bool serving) { serving_.store(serving); }

  class ReleaseQueue;

 private:
  struct RpcCall;
  struct StreamCall;

  // Memory reserved for one request's body: as received, then parsed.
  struct BodyHold {
    MemoryBudget::Reservation received;
    MemoryBudget::Reservation parsed;
  };
  // Decodes and parses a request body within the memory quota and limits;
  // answers the exchange itself (503, 413, 415, 400, -32700) and returns
  // nullopt when the body goes no further.
  std::optional<JsonRpcBody> ReadBody(HttpRequest& request,
                                      HttpExchange& exchange,
                                      const ProtocolVersion& version,
                                      size_t max_batch_items, BodyHold* hold);
  void HandleRpc(HttpRequest request, std::shared_ptr<HttpExchange> exchange);
  void ProcessRpc(std::shared_ptr<RpcCall> call);
  void HandleStream(HttpRequest request,
                    std::shared_ptr<HttpExchange> exchange);
  void ProcessStream(std::shared_ptr<StreamCall> call);
  // `caller`: the authenticated agent resuming (empty: none); a stream
  // opened by another agent is not found.
  void ResumeStream(absl::string_view last_event_id,
                    const ProtocolVersion& version,
                    const std::shared_ptr<HttpExchange>& exchange,
                    absl::string_view caller);
  // The caller's identity from its Authorization header and client
  // certificate (core_.authenticator); empty when authentication is off.
  absl::StatusOr<std::string> Authenticate(const HttpRequest& request) const;
  // The answer to a call that did not authenticate: HTTP 200, JSON-RPC
  // -32600 with data {"error","code","status_code":401}, and
  // WWW-Authenticate: Bearer.
  void RefuseUnauthenticated(HttpExchange& exchange, const HttpRequest& request,
                             const ProtocolVersion& version,
                             const absl::Status& status,
                             absl::string_view id_json);
  void HandleManifest(const HttpRequest& request, HttpExchange& exchange);
  // `batch`: the answer to a v2 batch array, compressed for speed.
  void Answer(HttpExchange& exchange, const HttpRequest& request,
              const ProtocolVersion& version, int status,
              absl::string_view content_type, std::string body,
              bool batch = false);

  const ServiceCore core_;
  const JsonRpcServiceOptions options_;
  std::string manifest_json_;
  std::string manifest_etag_;
  StreamLog stream_log_;
  std::shared_ptr<ReleaseQueue> releases_;
  std::atomic<bool> serving_{true};
};

}  // namespace asap

#endif  // ASAP_SERVER_HTTP_JSON_RPC_SERVICE_H_
