// The echo agent: answers a task.request with a task.response whose status is
// "completed" and whose result is the request's input. Its handlers and
// manifest are the echo skill of server/echo_skill.h (also what `asap serve`
// serves), named here as the example's own; this file adds the client side,
// the request to send and the text to read back. Used by the example server
// and the tests.
#ifndef ASAP_EXAMPLES_ECHO_AGENT_ECHO_AGENT_H_
#define ASAP_EXAMPLES_ECHO_AGENT_ECHO_AGENT_H_

#include <string>

#include "asap/v1/envelope.pb.h"
#include "server/echo_skill.h"

namespace asap::examples {

// The server side: handlers and manifest (server/echo_skill.h).
using ::asap::EchoHandlers;
using ::asap::EchoManifest;
using ::asap::EchoStream;
using ::asap::EchoTask;
using ::asap::kMaxEchoStreamSteps;

// A task.request for the echo agent from `sender`, whose input is
// {"text": text}. Send fills in id and timestamp.
v1::Envelope EchoRequest(
    const std::string& text,
    const std::string& sender = "urn:asap:agent:echo-client");

// The "text" of an echo response's result ("" when there is none).
std::string EchoedText(const v1::Envelope& response);

}  // namespace asap::examples

#endif  // ASAP_EXAMPLES_ECHO_AGENT_ECHO_AGENT_H_
