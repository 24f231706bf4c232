#include "server/agent_server.h"

#include <utility>

namespace asap {

absl::StatusOr<std::unique_ptr<AsapServer>> StartAgent(
    const skills::AgentService& agent, ServerOptions options,
    HandlerRegistry handlers) {
  absl::Status status = agent.AddTo(&options.manifest);
  if (!status.ok()) return status;
  status = agent.RegisterWith(&handlers);
  if (!status.ok()) return status;
  return AsapServer::Start(std::move(options), std::move(handlers));
}

}  // namespace asap
