// The echo agent: answers a task.request with a task.response whose status is
// "completed" and whose result is the request's input. Used by the example
// server, `asap serve` and the tests.
#ifndef ASAP_EXAMPLES_ECHO_AGENT_ECHO_AGENT_H_
#define ASAP_EXAMPLES_ECHO_AGENT_ECHO_AGENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "server/handler_registry.h"

namespace asap::examples {

// The handler for "task.request" (and "TaskRequest").
absl::StatusOr<v1::Envelope> EchoTask(const v1::Envelope& request,
                                      const v1::Manifest& manifest);

// A registry with EchoTask under both spellings of task.request.
// The handler for "echo.stream": payload {"text": string, "steps": number}.
// Sends `steps` task.update envelopes with progress, then a task.response
// whose result is {"text": text}; a streaming call (gRPC SendStream, HTTP
// POST /asap/stream) sees each of them, a unary one only the response.
inline constexpr int kMaxEchoStreamSteps = 100;
absl::StatusOr<v1::Envelope> EchoStream(const v1::Envelope& request,
                                        const HandlerContext& context,
                                        const StreamEmit& emit);

HandlerRegistry EchoHandlers();

// A task.request for the echo agent from `sender`, whose input is
// {"text": text}. Send fills in id and timestamp.
v1::Envelope EchoRequest(
    const std::string& text,
    const std::string& sender = "urn:asap:agent:echo-client");

// The "text" of an echo response's result ("" when there is none).
std::string EchoedText(const v1::Envelope& response);

// The echo agent's manifest, with `endpoint` as its endpoints.asap.
v1::Manifest EchoManifest(const std::string& endpoint);

}  // namespace asap::examples

#endif  // ASAP_EXAMPLES_ECHO_AGENT_ECHO_AGENT_H_
