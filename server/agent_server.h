// StartAgent: serves an agent written from a .proto (the Service class
// protoc-gen-asap generates, an asap::skills::AgentService), as gRPC's
// ServerBuilder::RegisterService serves a service:
//
// clang-format off
//   Researcher agent;                       // outlives the server
//   asap::ServerOptions options;
//   options.address = "0.0.0.0:50051";
//   options.http_address = "0.0.0.0:8080";  // and the JSON-RPC HTTP binding
//   absl::StatusOr<std::unique_ptr<asap::AsapServer>> server =
//       asap::StartAgent(agent, std::move(options));
// clang-format on
#ifndef ASAP_SERVER_AGENT_SERVER_H_
#define ASAP_SERVER_AGENT_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "asap/skills/agent_service.h"
#include "server/asap_server.h"

namespace asap {

// Writes the agent into options.manifest (AgentService::AddTo: its id, name,
// version and description where the manifest leaves them empty, and its
// skills with their JSON Schemas), registers it as the task.request handler
// of `handlers` (which may hold handlers of other payload types) and starts
// the server. Errors of AddTo, RegisterWith (AlreadyExists when `handlers`
// has a task.request handler) and AsapServer::Start.
absl::StatusOr<std::unique_ptr<AsapServer>> StartAgent(
    const skills::AgentService& agent, ServerOptions options,
    HandlerRegistry handlers = HandlerRegistry());

}  // namespace asap

#endif  // ASAP_SERVER_AGENT_SERVER_H_
