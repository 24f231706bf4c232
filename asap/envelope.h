// Envelope rules of ASAP v1.0: defaults, validation and response construction.
//
// clang-format off
//   asap::v1::Envelope request = ...;
//   asap::FillEnvelopeDefaults(&request, absl::Now());  // id (ULID), timestamp
//   absl::Status status = asap::ValidateEnvelope(request, absl::Now());
//   if (!status.ok()) { /* asap:protocol/... error naming the field */ }
// clang-format on
//
// Validation is the server's first step for every envelope (unary and batch)
// and the client's before sending, so both ends report the same errors.
#ifndef ASAP_ENVELOPE_H_
#define ASAP_ENVELOPE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/v1/envelope.pb.h"

namespace asap {

// The ASAP protocol version this build speaks (the reference's constant).
inline constexpr char kAsapVersion[] = "0.1";

struct ValidationOptions {
  // Envelopes older than this are rejected (asap:protocol/invalid_timestamp).
  absl::Duration max_age = absl::Seconds(300);
  // Envelopes further than this in the future are rejected.
  absl::Duration max_future = absl::Seconds(30);
  // Check the timestamp window at all (off for tools that inspect old files).
  bool check_timestamp_window = true;
  // Parse the timestamp at all (off only where asap wrote it itself, as for
  // the responses the server completes).
  bool check_timestamp_format = true;
  // Check the payload of the known payload types (task.request, TaskRequest,
  // ...) against its ASAP v1.0 schema: required fields, JSON types, allowed
  // enum strings, no unknown fields. Payload types asap does not know are left
  // to their handler.
  bool check_payload_schema = true;
};

// Sets `id` to a new ULID and `timestamp` to `now` when they are empty, and
// `asap_version` to kAsapVersion when empty.
void FillEnvelopeDefaults(v1::Envelope* envelope, absl::Time now);

// Checks every envelope rule of ASAP v1.0 at time `now`:
// - asap_version, sender, recipient, payload_type and payload present;
// - sender and recipient are agent URNs of at most 256 characters;
// - id, when set, at most 256 characters;
// - timestamp present, RFC 3339, within [now - max_age, now + max_future];
// - correlation_id present on response payload types;
// - extensions.nonce, when present, a non-empty string;
// - for known payload types, the payload matches its schema.
// Returns OK or the first violation as asap:protocol/malformed_envelope,
// asap:protocol/invalid_timestamp or asap:protocol/invalid_nonce, with a
// message that names the field.
absl::Status ValidateEnvelope(const v1::Envelope& envelope, absl::Time now,
                              const ValidationOptions& options = {});

// True for the payload types that answer a request and so need a
// correlation_id: task.response, mcp.tool_result, mcp.resource_data and their
// CamelCase spellings.
bool IsResponsePayloadType(absl::string_view payload_type);

// True for the twelve payload types of ASAP v1.0, in either spelling
// ("task.request" or "TaskRequest").
bool IsKnownPayloadType(absl::string_view payload_type);

// Completes a handler's response to `request`: id (a new ULID) and timestamp
// (`now`) when empty, asap_version, correlation_id = request.id, recipient =
// request.sender and sender = `agent_id` when empty.
void CompleteResponse(const v1::Envelope& request, absl::string_view agent_id,
                      absl::Time now, v1::Envelope* response);

}  // namespace asap

#endif  // ASAP_ENVELOPE_H_
