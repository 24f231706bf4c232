// What the server does with an envelope, for the fuzz targets: validation and
// dispatch through asap::EnvelopeDispatcher to the echo agent, with the
// dispatcher's contract checked on every result.
#ifndef ASAP_TESTS_FUZZ_ECHO_DISPATCH_H_
#define ASAP_TESTS_FUZZ_ECHO_DISPATCH_H_

#include "absl/time/time.h"
#include "asap/v1/envelope.pb.h"

namespace asap::fuzz {

// The time the fuzz targets validate at: shortly after the fixtures'
// timestamps (tests/testdata), so the seeds pass the 300 s / 30 s window and
// every run sees the same clock.
absl::Time FuzzNow();

// Runs ValidateEnvelope on `envelope` and dispatches it to the echo agent (no
// replay check, so inputs stay independent). Aborts when a result breaks the
// contract: every failure is an ASAP error (asap/errors.h), and a response is
// a valid envelope that answers the request.
void ValidateAndDispatch(const v1::Envelope& envelope);

}  // namespace asap::fuzz

#endif  // ASAP_TESTS_FUZZ_ECHO_DISPATCH_H_
