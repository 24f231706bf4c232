// JSON-RPC 2.0 framing of ASAP's HTTP binding: the request shape checks, in
// the order the reference applies them, and the error objects with the codes,
// HTTP statuses and `data` members its clients expect.
//
//   absl::StatusOr<JsonRpcBody> body = ParseJsonRpcBody(bytes, limits);
//   if (!body.ok()) ...                       // over the limits: HTTP 413
//   if (body->parse_error) ...                // -32700, answer as is
//   for (JsonRpcItem& item : body->items) {
//     if (item.error) ...                     // -32600 / -32601 / -32602
//     else dispatch item.envelope ...
//   }
#ifndef ASAP_SERVER_HTTP_JSON_RPC_H_
#define ASAP_SERVER_HTTP_JSON_RPC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/v1/envelope.pb.h"
#include "server/http/http_exchange.h"

namespace asap {

// JSON-RPC 2.0 error codes.
inline constexpr int kJsonRpcParseError = -32700;
inline constexpr int kJsonRpcInvalidRequest = -32600;
inline constexpr int kJsonRpcMethodNotFound = -32601;
inline constexpr int kJsonRpcInvalidParams = -32602;
inline constexpr int kJsonRpcInternalError = -32603;

// The one method of the binding.
inline constexpr absl::string_view kAsapSendMethod = "asap.send";

// The protocol version a request asked for with its ASAP-Version header.
struct ProtocolVersion {
  // Empty: v1.0 (no header, or no version this server speaks). Otherwise the
  // chosen v2 version, echoed in the ASAP-Version response header.
  std::string v2;
  bool is_v2() const { return !v2.empty(); }
};

// The v2 versions this server speaks, best first.
inline constexpr absl::string_view kSupportedV2Versions[] = {"2.2", "2.1",
                                                             "2.0"};

// Chooses the version for a request's ASAP-Version header ("2.2, 2.1"): the
// client's first listed version this server speaks, else v1.0.
ProtocolVersion NegotiateProtocolVersion(
    std::optional<absl::string_view> header);

// A JSON-RPC error, ready to be written.
struct JsonRpcError {
  int code = kJsonRpcInternalError;
  std::string message;
  // The `data` member as JSON text; empty for none.
  std::string data_json;
};

// One request of a body (a body holds one, or a v2 batch array of them).
struct JsonRpcItem {
  // The request's `id` as JSON text ("null" when it has none usable).
  std::string id_json = "null";
  // Set when the request is malformed; the envelope is then not set.
  std::optional<JsonRpcError> error;
  // The envelope of a well-formed asap.send request.
  v1::Envelope envelope;
};

struct JsonRpcBodyLimits {
  // JSON values (object members and list elements) in the whole body, and
  // nesting depth (the request wrapper adds 3 levels above a payload).
  int64_t max_json_values = 100000;
  int max_depth = 36;
  // Requests in one v2 batch array.
  size_t max_batch_items = 50;
};

struct JsonRpcBody {
  // The body does not parse (not JSON, or not UTF-8): answer this -32700.
  std::optional<JsonRpcError> parse_error;
  // The body is an array (a v2 batch): answer with an array, in order.
  bool is_batch = false;
  // The body's requests; a batch that is itself invalid (empty, too long)
  // becomes a single error item and is_batch false.
  std::vector<JsonRpcItem> items;
  // JSON values counted in the body.
  int64_t json_values = 0;
};

// Parses a decoded request body. Returns asap:transport/resource_exhausted
// when it holds more JSON values or deeper nesting than `limits` allow
// (counted while parsing, before any is kept). With a v2 `version` the v2
// envelope members (requires_ack) are accepted and dropped; a v1.0 request
// carrying them is an invalid envelope, as on a strict v1.0 server.
absl::StatusOr<JsonRpcBody> ParseJsonRpcBody(absl::string_view body,
                                             const JsonRpcBodyLimits& limits,
                                             const ProtocolVersion& version);

// The JSON-RPC error, or the HTTP answer, for an ASAP error status from
// dispatching an envelope.
struct DispatchErrorAnswer {
  // 200 with `error`, or 413 / 429 / 503 with `http_body` and
  // `http_headers` (Retry-After).
  int http_status = 200;
  JsonRpcError error;
  std::string http_body;
  HttpHeaders http_headers;
};

// v1.0: invalid envelope / timestamp / nonce -32602, no handler -32601, a
// handler failure -32603 {"error": "Internal server error"}, overload 503.
// Both versions: a sender that is not the authenticated agent -32602 with
// data {"error","code","status_code":403}; over the rate limit HTTP 429
// with Retry-After and a JSON-RPC-shaped body {"error":{"code":429,
// "data":{"retry_after","limit"}}} (in a batch, that error as the item's
// answer).
// v2: every ASAP error in the -32000..-32059 band (AsapJsonRpcCode) with
// `data.code` the ASAP code; overload still 503. `in_batch` answers overload
// as a JSON-RPC error too (an array has no per-item HTTP status).
DispatchErrorAnswer MapDispatchError(const absl::Status& status,
                                     const v1::Envelope& request,
                                     const ProtocolVersion& version,
                                     bool in_batch);

// The v2 JSON-RPC code of an ASAP error code name (docs/ERRORS.md lists the
// band); -32000 for asap:internal/error and unknown codes.
int AsapJsonRpcCode(absl::string_view asap_code);

// `{"jsonrpc":"2.0","error":{...},"id":ID}`.
std::string JsonRpcErrorResponse(const JsonRpcError& error,
                                 absl::string_view id_json);

// `{"jsonrpc":"2.0","result":{"envelope":ENVELOPE},"id":ID}`; a v2 answer's
// envelope carries requires_ack, as v2 envelopes always do.
std::string JsonRpcResultResponse(const v1::Envelope& envelope,
                                  absl::string_view id_json,
                                  const ProtocolVersion& version);

// The envelope as ASAP JSON, with v2's requires_ack when `version` is v2.
std::string EnvelopeJsonFor(const v1::Envelope& envelope,
                            const ProtocolVersion& version);

// `{"detail": TEXT}`, the shape of the binding's plain HTTP errors.
std::string DetailBody(absl::string_view detail);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace asap

#endif  // ASAP_SERVER_HTTP_JSON_RPC_H_
