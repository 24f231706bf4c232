#include "asap/skills/agent_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asap/envelope.h"
#include "asap/errors.h"

namespace asap::skills {

AgentService::AgentService(AgentIdentity identity, SkillRouterOptions options)
    : identity_(identity), router_(std::move(options)) {}

AgentService::~AgentService() = default;

void AgentService::Keep(absl::Status status) {
  if (init_status_.ok()) init_status_ = std::move(status);
}

absl::Status AgentService::Unimplemented(absl::string_view skill_id) {
  return AsapError(ErrorCode::kHandlerNotFound,
                   absl::StrCat("skill \"", skill_id,
                                "\" is not implemented by this agent"));
}

absl::Status AgentService::RegisterWith(HandlerRegistry* registry) const {
  if (!init_status_.ok()) return init_status_;
  return router_.RegisterWith(registry);
}

absl::Status AgentService::AddTo(v1::Manifest* manifest) const {
  if (!init_status_.ok()) return init_status_;
  auto fill = [](absl::string_view value, std::string* field) {
    if (field->empty()) *field = std::string(value);
  };
  fill(identity_.id, manifest->mutable_id());
  fill(identity_.name, manifest->mutable_name());
  fill(identity_.version, manifest->mutable_version());
  fill(identity_.description, manifest->mutable_description());
  fill(kAsapVersion, manifest->mutable_capabilities()->mutable_asap_version());
  return router_.AddSkillsTo(manifest);
}

absl::StatusOr<v1::Manifest> AgentService::Manifest() const {
  v1::Manifest manifest;
  absl::Status status = AddTo(&manifest);
  if (!status.ok()) return status;
  return manifest;
}

}  // namespace asap::skills
