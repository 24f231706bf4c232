// Differential fuzzing of the HTTP binding's direct JSON envelope path
// (asap/envelope_json.h) against asap/json.h (protobuf's transcoder):
// for any input RapidJSON reads as the binding reads request bodies
// (ParseJsonDocument), both
// accept it with equal envelopes or both reject it; and the direct writer
// prints what ToJson prints, which reads back equal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/envelope_json.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "rapidjson/document.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// The text RapidJSON's reader sees: its UTF-8 memory stream skips the bytes
// of a byte order mark (EF, BB, BF, each if present, in that order), and a
// NUL byte ends the input (after the document it ends the input; in it the
// document is cut short).
absl::string_view AsRapidJsonReadsIt(absl::string_view json) {
  for (char bom : {'\xEF', '\xBB', '\xBF'}) {
    if (!json.empty() && json.front() == bom) json.remove_prefix(1);
  }
  return json.substr(0, json.find('\0'));
}

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static google::protobuf::LogSilencer quiet;
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  rapidjson::Document document;
  if (!asap::ParseJsonDocument(json, &document) || !document.IsObject()) {
    return 0;
  }

  absl::StatusOr<asap::v1::Envelope> reference =
      asap::EnvelopeFromJson(AsRapidJsonReadsIt(json));
  absl::StatusOr<asap::v1::Envelope> direct =
      asap::EnvelopeFromJsonValue(document);
  FUZZ_CHECK(reference.ok() == direct.ok(), "protobuf: %s; direct: %s",
             Message(reference.status()).c_str(),
             Message(direct.status()).c_str());
  if (!direct.ok()) {
    FUZZ_CHECK(asap::ErrorCodeOf(direct.status()) ==
                   asap::ErrorCode::kMalformedEnvelope,
               "%s", Message(direct.status()).c_str());
    return 0;
  }
  FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(*reference, *direct),
      "protobuf: %s\ndirect: %s", reference->DebugString().c_str(),
      direct->DebugString().c_str());

  std::string printed;
  asap::AppendEnvelopeJson(*direct, &printed);
  std::string expected = asap::ToJson(*direct);
  FUZZ_CHECK(printed == expected, "direct: %s\nprotobuf: %s", printed.c_str(),
             expected.c_str());
  absl::StatusOr<asap::v1::Envelope> reparsed = asap::EnvelopeFromJson(printed);
  FUZZ_CHECK(reparsed.ok(), "cannot read back %s: %s", printed.c_str(),
             Message(reparsed.status()).c_str());
  FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(*direct, *reparsed),
      "round trip changed %s", printed.c_str());
  return 0;
}
