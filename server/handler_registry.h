// HandlerRegistry: the server's table of handlers keyed by payload_type.
//
//   asap::HandlerRegistry handlers;
//   handlers.Register("task.request",
//       [](const asap::v1::Envelope& request, const asap::v1::Manifest& self)
//           -> absl::StatusOr<asap::v1::Envelope> {
//         asap::v1::Envelope response;
//         response.set_payload_type("task.response");
//         ...
//         return response;
//       });
//
// A handler returns the response envelope; the server completes it (id,
// timestamp, correlation_id, sender, recipient) and validates it. A handler's
// error status goes back to the caller as is (an ASAP error keeps its code).
// Handlers may run on many threads at once and must be thread-safe.
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

namespace asap {

using Handler = std::function<absl::StatusOr<v1::Envelope>(
    const v1::Envelope& request, const v1::Manifest& manifest)>;

class HandlerRegistry {
 public:
  HandlerRegistry() = default;
  HandlerRegistry(HandlerRegistry&&) = default;
  HandlerRegistry& operator=(HandlerRegistry&&) = default;

  // Registers `handler` for `payload_type`. Returns InvalidArgument for an
  // empty payload type or a null handler, AlreadyExists when the type has a
  // handler.
  absl::Status Register(absl::string_view payload_type, Handler handler);

  // The handler for `payload_type`, or nullptr.
  const Handler* Find(absl::string_view payload_type) const;

  // The registered payload types, sorted.
  std::vector<std::string> payload_types() const;

 private:
  absl::flat_hash_map<std::string, Handler> handlers_;
};

}  // namespace asap

#endif  // ASAP_SERVER_HANDLER_REGISTRY_H_
