// HandlerRegistry: the server's table of handlers keyed by payload_type.
//
//   asap::HandlerRegistry handlers;
//   // The simplest form: request and the agent's manifest.
//   handlers.Register("task.request",
//       [](const asap::v1::Envelope& request, const asap::v1::Manifest& self)
//           -> absl::StatusOr<asap::v1::Envelope> {
//         asap::v1::Envelope response;
//         response.set_payload_type("task.response");
//         ...
//         return response;
//       });
//   // With the call's context: deadline, cancellation, metadata, peer,
//   // identity (server/handler_context.h).
//   handlers.Register("task.cancel",
//       [](const asap::v1::Envelope& request,
//          const asap::HandlerContext& context)
//           -> absl::StatusOr<asap::v1::Envelope> { ... });
//   // Pure computation that never blocks: runs on the network thread.
//   handlers.RegisterNonBlocking("task.request", EchoTask);
//   // Asynchronous: completes later by calling `done` exactly once, for
//   // example after calling another agent with AsapClient::SendAsync. It
//   // must not block: it runs on the server's network threads.
//   handlers.RegisterAsync("task.request",
//       [client](const asap::v1::Envelope& request,
//                const asap::HandlerContext& context,
//                asap::HandlerDone done) {
//         client->SendAsync(Forward(request), [done](auto result) {
//           done(MakeResponse(result));
//         });
//       });
//   // Streaming: sends intermediate envelopes (progress) before the final
//   // response. Runs on the handler threads, like the blocking forms.
//   handlers.RegisterStreaming("task.request",
//       [](const asap::v1::Envelope& request,
//          const asap::HandlerContext& context,
//          const asap::StreamEmit& emit)
//           -> absl::StatusOr<asap::v1::Envelope> {
//         for (int step = 1; step <= 10; ++step) {
//           DoStep(request, step);
//           if (!emit(MakeUpdate(request, step * 10))) {
//             return asap::AsapError(asap::ErrorCode::kCancelled, "gave up");
//           }
//         }
//         return MakeResponse(request);
//       });
//
// A handler returns (or passes to `done`) the response envelope; the server
// completes it (id, timestamp, correlation_id, sender, recipient) and
// validates it. A handler's error status goes back to the caller as is (an
// ASAP error keeps its code). A handler that throws gives the caller
// asap:internal/error. Synchronous handlers run on the server's handler
// threads and may block; many run at once, so all handlers must be
// thread-safe.
//
// Intermediate envelopes are completed and validated like the response. On
// a streaming call (gRPC SendStream, HTTP/SSE) each envelope's payload gets a
// boolean `final`: false on the intermediates, true on the last one; any
// handler form may answer a streaming call (the others give only the final
// envelope). On a unary call a streaming handler's intermediates are
// dropped and its response goes back unmarked. `emit` does not wait for the
// caller: it queues the envelope, and it returns false once the call is over
// (caller gone, an invalid envelope, or the binding's bound on queued
// envelopes passed), after which the handler should return soon.
#ifndef ASAP_SERVER_HANDLER_REGISTRY_H_
#define ASAP_SERVER_HANDLER_REGISTRY_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "server/handler_context.h"

namespace asap {

using Handler = std::function<absl::StatusOr<v1::Envelope>(
    const v1::Envelope& request, const v1::Manifest& manifest)>;
using ContextHandler = std::function<absl::StatusOr<v1::Envelope>(
    const v1::Envelope& request, const HandlerContext& context)>;
// Completes an asynchronous handler; call exactly once, from any thread.
using HandlerDone = std::function<void(absl::StatusOr<v1::Envelope>)>;
using AsyncHandler =
    std::function<void(const v1::Envelope& request,
                       const HandlerContext& context, HandlerDone done)>;

// Sends one intermediate envelope (for example a task.update with progress)
// before the final response. Returns false once the caller is gone or the
// stream is over its bounds: the handler should stop early. Thread-safe; it
// may be called until the handler returns, not after.
using StreamEmit = std::function<bool(v1::Envelope intermediate)>;
using StreamingHandler = std::function<absl::StatusOr<v1::Envelope>(
    const v1::Envelope& request, const HandlerContext& context,
    const StreamEmit& emit)>;

// One registered handler: exactly one of `blocking`, `async` and `streaming`
// is set.
struct HandlerEntry {
  ContextHandler blocking;
  AsyncHandler async;
  StreamingHandler streaming;
  // `blocking` never blocks (pure computation): it may run on the network
  // thread that received the call, saving a thread hop.
  bool runs_inline = false;
};

class HandlerRegistry {
 public:
  HandlerRegistry() = default;
  HandlerRegistry(HandlerRegistry&&) = default;
  HandlerRegistry& operator=(HandlerRegistry&&) = default;

  // Registers `handler` for `payload_type`. Returns InvalidArgument for an
  // empty payload type or a null handler, AlreadyExists when the type has a
  // handler.
  absl::Status Register(absl::string_view payload_type, Handler handler);
  absl::Status Register(absl::string_view payload_type, ContextHandler handler);
  absl::Status RegisterAsync(absl::string_view payload_type,
                             AsyncHandler handler);
  // A handler that may send intermediate envelopes through `emit` before its
  // response. It runs on the handler threads and may block.
  absl::Status RegisterStreaming(absl::string_view payload_type,
                                 StreamingHandler handler);
  // For handlers that only compute and return quickly (no I/O, no locks held
  // for long, no waiting): they run on the thread that received the call,
  // like gRPC's own callback handlers, instead of being handed to a handler
  // thread. A handler that blocks here stalls the server's network threads.
  absl::Status RegisterNonBlocking(absl::string_view payload_type,
                                   Handler handler);

  // The handler for `payload_type`, or nullptr.
  const HandlerEntry* Find(absl::string_view payload_type) const;

  // The registered payload types, sorted.
  std::vector<std::string> payload_types() const;

 private:
  absl::Status Add(absl::string_view payload_type, HandlerEntry entry);

  absl::flat_hash_map<std::string, HandlerEntry> handlers_;
};

}  // namespace asap

#endif  // ASAP_SERVER_HANDLER_REGISTRY_H_
