// Fuzzes ASAP JSON envelopes (asap/json.h): parsing, validation, dispatch to
// the echo agent, and the JSON round trip of whatever parses.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/echo_dispatch.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it meets; fuzzing meets many.
  static google::protobuf::LogSilencer quiet;
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<asap::v1::Envelope> envelope = asap::EnvelopeFromJson(json);
  if (!envelope.ok()) {
    FUZZ_CHECK(asap::ErrorCodeOf(envelope.status()) ==
                   asap::ErrorCode::kMalformedEnvelope,
               "%s", std::string(envelope.status().message()).c_str());
    return 0;
  }

  // What asap prints, asap (and so the reference) reads back unchanged.
  std::string printed = asap::ToJson(*envelope);
  absl::StatusOr<asap::v1::Envelope> reparsed = asap::EnvelopeFromJson(printed);
  FUZZ_CHECK(reparsed.ok(), "cannot read back %s: %s", printed.c_str(),
             std::string(reparsed.status().message()).c_str());
  FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(*envelope, *reparsed),
      "round trip changed %s", printed.c_str());

  asap::fuzz::ValidateAndDispatch(*envelope);
  return 0;
}
