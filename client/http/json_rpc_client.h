// The client's side of ASAP's JSON-RPC framing: request bodies for
// `POST /asap`, and answers read back into envelopes or ASAP errors.
//
// Errors map back to the ASAP codes a gRPC call gives for the same failure:
//   * a `data.code` naming an ASAP code (v2 answers, and v1.0's timestamp and
//     nonce errors) is that code;
//   * otherwise the JSON-RPC code: -32700, -32600 and -32602
//     asap:protocol/malformed_envelope, -32601
//     asap:transport/handler_not_found, -32603 and the rest
//     asap:internal/error;
//   * plain HTTP errors (HttpStatusError): 413 payload_too_large, 415
//     unsupported_encoding, 400 corrupt_body, 429 resource_exhausted, 5xx
//     unavailable.
#ifndef ASAP_CLIENT_HTTP_JSON_RPC_CLIENT_H_
#define ASAP_CLIENT_HTTP_JSON_RPC_CLIENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "asap/v1/envelope.pb.h"

namespace asap::internal {

// `{"jsonrpc":"2.0","method":"asap.send","params":{"envelope":E,
// "idempotency_key":ID},"id":N}`; the envelope's id is the idempotency key.
void AppendJsonRpcSend(const v1::Envelope& envelope, int64_t request_id,
                       std::string* out);
std::string JsonRpcSendBody(const v1::Envelope& envelope, int64_t request_id);

// A v2 batch array of asap.send requests with ids first_id, first_id + 1, ...
std::string JsonRpcBatchBody(absl::Span<const v1::Envelope* const> envelopes,
                             int64_t first_id);

// Reads the answer to one asap.send: the result's envelope, or the ASAP error
// of its JSON-RPC error. A body that is not a JSON-RPC answer is
// asap:internal/error. v2's `requires_ack` member is accepted and dropped.
absl::StatusOr<v1::Envelope> ParseJsonRpcSendAnswer(absl::string_view body);

// The same, for the request whose id was `request_id`: an answer that names
// another request (a result with any other id, an error with another
// non-null id) is asap:internal/error, never taken for this one's.
absl::StatusOr<v1::Envelope> ParseJsonRpcSendAnswer(absl::string_view body,
                                                    int64_t request_id);

// Reads the answer to a batch of `count` requests with ids first_id, ...:
// one result per request, in request order, matched by id. A body that is
// not such an array (or a single error object, which a server gives for a
// batch it refuses whole) fails as a whole.
absl::StatusOr<std::vector<absl::StatusOr<v1::Envelope>>>
ParseJsonRpcBatchAnswer(absl::string_view body, int64_t first_id, size_t count);

// The ASAP error of a non-200 HTTP answer with body `body` (`{"detail": ...}`
// or a JSON-RPC error object); `url` names the target in the message.
absl::Status HttpStatusError(int status, absl::string_view body,
                             absl::string_view url);

// The seconds of a Retry-After header (delta-seconds or an HTTP date);
// nullopt when absent or unreadable.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value,
                                              absl::Time now);

// Cache-Control's max-age, or nullopt.
std::optional<absl::Duration> ParseMaxAge(absl::string_view cache_control);

}  // namespace asap::internal

#endif  // ASAP_CLIENT_HTTP_JSON_RPC_CLIENT_H_
