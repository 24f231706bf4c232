#include "server/handler_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace asap {
namespace {

// The context form of a handler that takes only the manifest.
ContextHandler WithManifest(Handler handler) {
  return [handler = std::move(handler)](const v1::Envelope& request,
                                        const HandlerContext& context) {
    return handler(request, context.manifest());
  };
}

}  // namespace

absl::Status HandlerRegistry::Register(absl::string_view payload_type,
                                       Handler handler) {
  if (!handler) return Add(payload_type, HandlerEntry{});
  HandlerEntry entry;
  entry.blocking = WithManifest(std::move(handler));
  return Add(payload_type, std::move(entry));
}

absl::Status HandlerRegistry::RegisterNonBlocking(
    absl::string_view payload_type, Handler handler) {
  if (!handler) return Add(payload_type, HandlerEntry{});
  HandlerEntry entry;
  entry.blocking = WithManifest(std::move(handler));
  entry.runs_inline = true;
  return Add(payload_type, std::move(entry));
}

absl::Status HandlerRegistry::Register(absl::string_view payload_type,
                                       ContextHandler handler) {
  HandlerEntry entry;
  entry.blocking = std::move(handler);
  return Add(payload_type, std::move(entry));
}

absl::Status HandlerRegistry::RegisterAsync(absl::string_view payload_type,
                                            AsyncHandler handler) {
  HandlerEntry entry;
  entry.async = std::move(handler);
  return Add(payload_type, std::move(entry));
}

absl::Status HandlerRegistry::RegisterStreaming(absl::string_view payload_type,
                                                StreamingHandler handler) {
  HandlerEntry entry;
  entry.streaming = std::move(handler);
  return Add(payload_type, std::move(entry));
}

absl::Status HandlerRegistry::Add(absl::string_view payload_type,
                                  HandlerEntry entry) {
  if (payload_type.empty()) {
    return absl::InvalidArgumentError("payload_type must not be empty");
  }
  if (!entry.blocking && !entry.async && !entry.streaming) {
    return absl::InvalidArgumentError(
        absl::StrCat("handler for '", payload_type, "' is null"));
  }
  auto [it, inserted] =
      handlers_.emplace(std::string(payload_type), std::move(entry));
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("a handler for '", payload_type, "' is registered"));
  }
  return absl::OkStatus();
}

const HandlerEntry* HandlerRegistry::Find(
    absl::string_view payload_type) const {
  auto it = handlers_.find(payload_type);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> HandlerRegistry::payload_types() const {
  std::vector<std::string> types;
  types.reserve(handlers_.size());
  for (const auto& [type, handler] : handlers_) types.push_back(type);
  std::sort(types.begin(), types.end());
  return types;
}

}  // namespace asap
