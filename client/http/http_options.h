// Options of AsapClient for `http://` targets: ASAP's JSON-RPC binding
// (ClientOptions::http). The pool options (ClientOptions::pool) and the
// manifest cache apply to both bindings.
#ifndef ASAP_CLIENT_HTTP_HTTP_OPTIONS_H_
#define ASAP_CLIENT_HTTP_HTTP_OPTIONS_H_

#include "absl/time/time.h"

namespace asap {

// Which HTTP the client speaks to an `http://` target.
enum class HttpProtocol {
  // HTTP/2 when the server speaks it, HTTP/1.1 otherwise: the first call
  // asks once (GET /health over HTTP/2 with prior knowledge, which an
  // HTTP/1.1-only server refuses without running anything) and the answer
  // holds for the client's life.
  kAuto,
  // HTTP/1.1 keep-alive: one request per connection at a time.
  kHttp1,
  // HTTP/2 with prior knowledge (h2c): every call multiplexed.
  kHttp2,
};

// Retries of failed HTTP requests, as the ASAP reference client makes them:
// connection errors and 5xx answers after an exponential backoff with
// jitter, 429 after its Retry-After. Other answers (4xx, JSON-RPC errors) are
// never retried. A retry resends the same envelope (same id and idempotency
// key), to another base URL when the target lists several; no retry starts
// past the call's deadline.
struct HttpRetryOptions {
  // Retries after the first attempt; 0 disables retries.
  int max_retries = 3;
  // Wait before the first retry, doubled for each later one (with up to 20%
  // jitter), at most max_backoff.
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  // Longest Retry-After honoured; a 429 asking for longer (or past the
  // call's deadline) fails at once with asap:transport/resource_exhausted.
  absl::Duration max_retry_after = absl::Seconds(60);
};

struct HttpClientOptions {
  HttpProtocol protocol = HttpProtocol::kAuto;
  // Send `ASAP-Version: 2.2, 2.1, 2.0`. A v2 server answers in v2 (errors
  // then carry their ASAP code, and SendBatch may use batch arrays); a v1.0
  // server ignores the header.
  bool negotiate_v2 = true;
  // SendBatch to a v2 server: envelopes per JSON-RPC batch array (the
  // binding allows 50); 0 sends every envelope in its own request.
  int batch_array_items = 50;
  HttpRetryOptions retry;
};

}  // namespace asap

#endif  // ASAP_CLIENT_HTTP_HTTP_OPTIONS_H_
