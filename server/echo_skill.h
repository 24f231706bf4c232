// The echo skill: an agent that answers a task.request with a task.response
// whose status is "completed" and whose result is the request's input, and
// streams progress on "echo.stream". It is what `asap serve` serves unless
// given other handlers, and what the tests and benchmarks run; a separate
// library (//server:echo_skill), not part of //server. (The echo example,
// examples/echo_agent/, is the same agent written from a .proto.)
//
//   asap::ServerOptions options;
//   options.manifest = asap::EchoManifest("");  // endpoint: bound address
//   auto server =
//       asap::AsapServer::Start(std::move(options), asap::EchoHandlers());
#ifndef ASAP_SERVER_ECHO_SKILL_H_
#define ASAP_SERVER_ECHO_SKILL_H_

#include <string>

#include "absl/status/statusor.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "server/handler_context.h"
#include "server/handler_registry.h"

namespace asap {

// The handler for "task.request" (and "TaskRequest").
absl::StatusOr<v1::Envelope> EchoTask(const v1::Envelope& request,
                                      const v1::Manifest& manifest);

// The handler for "echo.stream": payload {"text": string, "steps": number}.
// Sends `steps` task.update envelopes with progress, then a task.response
// whose result is {"text": text}; a streaming call (gRPC SendStream, HTTP
// POST /asap/stream) sees each of them, a unary one only the response.
// Returns asap:protocol/malformed_envelope for another payload or more than
// kMaxEchoStreamSteps steps, asap:transport/cancelled when the stream closes.
inline constexpr int kMaxEchoStreamSteps = 100;
absl::StatusOr<v1::Envelope> EchoStream(const v1::Envelope& request,
                                        const HandlerContext& context,
                                        const StreamEmit& emit);

// A registry with EchoTask under both spellings of task.request and
// EchoStream under "echo.stream".
HandlerRegistry EchoHandlers();

// The echo agent's manifest (urn:asap:agent:echo, one skill "echo"), with
// `endpoint` as its endpoints.asap.
v1::Manifest EchoManifest(const std::string& endpoint);

}  // namespace asap

#endif  // ASAP_SERVER_ECHO_SKILL_H_
