// Envelopes for the echo agent (server/echo_skill.h) that tests and
// benchmarks send, and the text they read back.
#ifndef ASAP_TESTS_TESTING_ECHO_REQUESTS_H_
#define ASAP_TESTS_TESTING_ECHO_REQUESTS_H_

#include <string>

#include "asap/v1/envelope.pb.h"
#include "server/echo_skill.h"

namespace asap::testing {

// A task.request for the echo agent from `sender`, whose input is
// {"text": text}. Send fills in id and timestamp.
v1::Envelope EchoRequest(
    const std::string& text,
    const std::string& sender = "urn:asap:agent:echo-client");

// The "text" of an echo response's result ("" when there is none).
std::string EchoedText(const v1::Envelope& response);

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_ECHO_REQUESTS_H_
