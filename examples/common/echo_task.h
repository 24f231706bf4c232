// The envelopes an example client sends the echo skill (server/echo_skill.h,
// what `asap serve` serves) and the text it reads back:
//
//   asap::v1::Envelope request = asap::examples::EchoTaskRequest(
//       "hello", {.recipient = manifest.id()});
//   ASAP_ASSIGN_OR_RETURN(asap::v1::Envelope response, client->Send(request));
//   std::cout << asap::examples::EchoResultText(response);  // "hello"
//
// Send fills in each envelope's id and timestamp.
#ifndef ASAP_EXAMPLES_COMMON_ECHO_TASK_H_
#define ASAP_EXAMPLES_COMMON_ECHO_TASK_H_

#include <string>

#include "absl/strings/string_view.h"
#include "asap/v1/envelope.pb.h"

namespace asap::examples {

// Who an echo envelope is from and to, and the conversation it belongs to.
struct EchoTaskOptions {
  std::string sender = "urn:asap:agent:example-client";
  // The echo agent's id; or the id its manifest gives.
  std::string recipient = "urn:asap:agent:echo";
  std::string conversation_id = "conversation-1";
};

// A task.request for the echo skill whose input is {"text": text}; the
// task.response's result is the same {"text": text}.
v1::Envelope EchoTaskRequest(absl::string_view text,
                             const EchoTaskOptions& options = {});

// An echo.stream request: `steps` task.update envelopes, then a
// task.response whose result is {"text": text}.
v1::Envelope EchoStreamRequest(absl::string_view text, int steps,
                               const EchoTaskOptions& options = {});

// The "text" of an echo response's result ("" when there is none).
std::string EchoResultText(const v1::Envelope& response);

}  // namespace asap::examples

#endif  // ASAP_EXAMPLES_COMMON_ECHO_TASK_H_
