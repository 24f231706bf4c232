#include "server/handler_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace asap {

absl::Status HandlerRegistry::Register(absl::string_view payload_type,
                                       Handler handler) {
  if (payload_type.empty()) {
    return absl::InvalidArgumentError("payload_type must not be empty");
  }
  if (!handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("handler for '", payload_type, "' is null"));
  }
  auto [it, inserted] =
      handlers_.emplace(std::string(payload_type), std::move(handler));
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("a handler for '", payload_type, "' is registered"));
  }
  return absl::OkStatus();
}

const Handler* HandlerRegistry::Find(absl::string_view payload_type) const {
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
