// ASAP v1.0 JSON for Envelope, Manifest and payload messages.
//
// The Protobuf JSON form of the asap.v1 messages, with the original field
// names, is ASAP v1.0 JSON: these functions are that mapping with ASAP errors.
//
//   absl::StatusOr<asap::v1::Envelope> envelope = asap::EnvelopeFromJson(text);
//   if (!envelope.ok()) { /* asap:protocol/malformed_envelope: ... */ }
//   std::string json = asap::ToJson(*envelope);
#ifndef ASAP_JSON_H_
#define ASAP_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "google/protobuf/message.h"

namespace asap {

struct JsonPrintOptions {
  // Indent with two spaces and break lines (for people); compact otherwise.
  bool pretty = false;
};

// `message` as JSON with the original (snake_case) field names; fields at their
// default value are left out, as the reference leaves out nulls.
std::string ToJson(const google::protobuf::Message& message,
                   const JsonPrintOptions& options = {});

// Parses JSON into `message`. Unknown fields are rejected. On failure returns
// an error with `code` whose message says what is wrong.
absl::Status FromJson(absl::string_view json,
                      google::protobuf::Message* message, ErrorCode code);

// Parses an ASAP JSON envelope (it does not validate it: see
// ValidateEnvelope). Returns asap:protocol/malformed_envelope when the text is
// not JSON, has unknown fields or fields of the wrong type.
absl::StatusOr<v1::Envelope> EnvelopeFromJson(absl::string_view json);

// Parses an ASAP JSON manifest. Returns asap:protocol/malformed_manifest on
// failure.
absl::StatusOr<v1::Manifest> ManifestFromJson(absl::string_view json);

}  // namespace asap

#endif  // ASAP_JSON_H_
