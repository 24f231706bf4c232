// HandlerContext: what a handler knows about the call that carried its
// envelope, whichever binding carried it.
//
//   handlers.Register("task.request",
//       [](const asap::v1::Envelope& request,
//          const asap::HandlerContext& context)
//           -> absl::StatusOr<asap::v1::Envelope> {
//         if (context.IsCancelled()) {
//           return asap::AsapError(asap::ErrorCode::kCancelled, "gave up");
//         }
//         std::optional<absl::string_view> tenant =
//             context.metadata("x-tenant");
//         ...
//       });
//
// A context is valid until the handler returns (sync forms) or calls its
// `done` callback (async form); copy what is needed beyond that.
#ifndef ASAP_SERVER_HANDLER_CONTEXT_H_
#define ASAP_SERVER_HANDLER_CONTEXT_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/v1/manifest.pb.h"

namespace asap {

class HandlerContext {
 public:
  using Metadata = std::vector<std::pair<std::string, std::string>>;

  // A context with no deadline, no peer and no metadata (in-process calls,
  // tests, fuzzers). `manifest` must outlive the context.
  explicit HandlerContext(const v1::Manifest* manifest) : manifest_(manifest) {}

  // The agent's own manifest.
  const v1::Manifest& manifest() const { return *manifest_; }
  // When the caller stops waiting (InfiniteFuture() when it set none).
  absl::Time deadline() const { return deadline_; }
  // True once the caller cancelled the call, its deadline passed or the
  // server is shutting down: the result will not be delivered, so a long
  // handler may stop early.
  bool IsCancelled() const {
    return (is_cancelled_ && is_cancelled_()) || absl::Now() >= deadline_;
  }
  // The caller's address, for example "ipv4:127.0.0.1:53422".
  const std::string& peer() const { return peer_; }
  // The binding that carried the call: "grpc" (later also "http").
  absl::string_view binding() const { return binding_; }
  // The caller's request metadata (gRPC metadata or HTTP headers), keys in
  // lower case. Binary (-bin) entries are left out.
  const Metadata& client_metadata() const { return metadata_; }
  // The first value of metadata `key` (lower case), if present.
  std::optional<absl::string_view> metadata(absl::string_view key) const {
    for (const auto& [name, value] : metadata_) {
      if (name == key) return value;
    }
    return std::nullopt;
  }
  // The authenticated identity of the caller, as set by the server's
  // authentication step; empty when the call was not authenticated.
  const std::string& identity() const { return identity_; }

  // Set by the binding that carries the call.
  void set_deadline(absl::Time deadline) { deadline_ = deadline; }
  void set_cancellation_check(std::function<bool()> check) {
    is_cancelled_ = std::move(check);
  }
  void set_peer(std::string peer) { peer_ = std::move(peer); }
  void set_binding(absl::string_view binding) { binding_ = binding; }
  void add_metadata(std::string key, std::string value) {
    metadata_.emplace_back(std::move(key), std::move(value));
  }
  void set_identity(std::string identity) { identity_ = std::move(identity); }
  // The binding already ran EnvelopeDispatcher::CheckCaller for the one
  // envelope of this context (rate limit taken, sender checked).
  void set_caller_checked(bool checked) { caller_checked_ = checked; }
  bool caller_checked() const { return caller_checked_; }

 private:
  const v1::Manifest* manifest_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::function<bool()> is_cancelled_;
  std::string peer_;
  absl::string_view binding_ = "in-process";
  Metadata metadata_;
  std::string identity_;
  bool caller_checked_ = false;
};

}  // namespace asap

#endif  // ASAP_SERVER_HANDLER_CONTEXT_H_
