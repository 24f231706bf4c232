// Identifiers and times of the ASAP data model: ULIDs, RFC 3339 UTC timestamps
// and agent URNs.
//
// clang-format off
//   std::string id = asap::NewUlid();  // "01JD3Z6M6Z5X4N2VQ8R9T0ABCD"
//   std::string ts = asap::FormatTimestamp(absl::Now());
//   // ts == "2026-11-27T18:14:04.123456Z"
//   absl::StatusOr<absl::Time> t = asap::ParseTimestamp(ts);
//   bool ok = asap::IsAgentUrn("urn:asap:agent:research-v1");
// clang-format on
#ifndef ASAP_IDS_H_
#define ASAP_IDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asap {

// A new ULID: 26 Crockford base32 characters, a 48-bit millisecond timestamp
// followed by 80 random bits. Thread-safe; ids made in one millisecond by one
// thread sort in creation order.
std::string NewUlid();

// A ULID for the given time (for tests and for ids that must sort by `time`).
std::string NewUlid(absl::Time time);

// True when `id` is 26 Crockford base32 characters (case-insensitive) whose
// first character is at most '7' (the 48-bit time fits).
bool IsUlid(absl::string_view id);

// `time` in RFC 3339 UTC with microseconds: "2026-11-27T18:14:04.123456Z".
std::string FormatTimestamp(absl::Time time);

// Parses an RFC 3339 timestamp: with "Z" or a numeric offset
// ("+00:00", as the Python reference prints), fractional seconds optional. A
// timestamp without an offset is read as UTC. Returns
// asap:protocol/invalid_timestamp when it does not parse.
absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text);

// Longest agent URN accepted.
inline constexpr size_t kMaxUrnLength = 256;

// True when `urn` matches ^urn:asap:agent:[a-z0-9-]+(?::[a-z0-9-]+)?$ and is at
// most kMaxUrnLength characters.
bool IsAgentUrn(absl::string_view urn);

}  // namespace asap

#endif  // ASAP_IDS_H_
