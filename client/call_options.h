// CallOptions: what one AsapClient call may set for itself (a deadline,
// metadata, wait_for_ready) on top of the client's ClientOptions.
//
//   asap::CallOptions call;
//   call.deadline = absl::Now() + absl::Seconds(2);  // this call only
//   call.metadata = {{"x-tenant", "acme"}, {"x-request-id", request_id}};
//   call.wait_for_ready = true;  // wait for the agent to come up
//   absl::StatusOr<asap::v1::Envelope> response = client->Send(request, call);
//
// The same options mean the same thing on both bindings: metadata travels as
// gRPC metadata or as HTTP headers, and reaches a handler as
// HandlerContext::client_metadata() (server/handler_context.h).
#ifndef ASAP_CLIENT_CALL_OPTIONS_H_
#define ASAP_CLIENT_CALL_OPTIONS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace asap {

struct CallOptions {
  // Deadline of this call. absl::InfiniteFuture() (the default) = now +
  // ClientOptions::timeout. Any other value replaces that timeout for this
  // call, earlier or later; retries (ClientOptions::retry, http.retry) never
  // start past it. A deadline already past fails the call with
  // asap:transport/deadline_exceeded.
  absl::Time deadline = absl::InfiniteFuture();
  // Sent with the request: gRPC metadata on gRPC targets, HTTP headers on
  // http(s):// targets. Keys: lowercase, [0-9a-z-_.], not starting with
  // "grpc-" or ":", not ending in "-bin" (binary metadata), and not one the
  // client sets itself (authorization, content-type, te, user-agent, asap-*,
  // content-encoding, accept-encoding, host, content-length, ...; see
  // ValidateCallOptions); values printable ASCII without CR/LF and without
  // leading or trailing spaces (HTTP would strip them). A bad key or value is
  // InvalidArgument before anything is sent. A key may repeat.
  std::vector<std::pair<std::string, std::string>> metadata;
  // gRPC targets: wait for the channel to connect (until the deadline)
  // instead of failing at once while it is not ready
  // (grpc::ClientContext::set_wait_for_ready). HTTP targets: connection
  // failures are retried until the deadline, spaced by http.retry's backoff
  // and not counted against its max_retries. Either way a call that never
  // connects ends with asap:transport/deadline_exceeded.
  bool wait_for_ready = false;
};

// OK, or InvalidArgument naming the first metadata entry that breaks the
// rules above (AsapClient checks this before sending anything).
absl::Status ValidateCallOptions(const CallOptions& options);

}  // namespace asap

#endif  // ASAP_CLIENT_CALL_OPTIONS_H_
