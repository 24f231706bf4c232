// Fuzzes the parsers of the ASAP data model (asap/ids.h): RFC 3339
// timestamps, ULIDs and agent URNs, each checked against a property that
// holds for every input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/ids.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// ^urn:asap:agent:[a-z0-9-]+(?::[a-z0-9-]+)?$, at most kMaxUrnLength
// characters: the rule of ids.h, written independently of ids.cc.
bool ReferenceIsAgentUrn(absl::string_view urn) {
  constexpr absl::string_view kPrefix = "urn:asap:agent:";
  if (urn.size() > asap::kMaxUrnLength) return false;
  if (urn.substr(0, kPrefix.size()) != kPrefix) return false;
  absl::string_view rest = urn.substr(kPrefix.size());
  size_t colon = rest.find(':');
  auto segment_ok = [](absl::string_view segment) {
    if (segment.empty()) return false;
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    return true;
  };
  if (colon == absl::string_view::npos) return segment_ok(rest);
  return segment_ok(rest.substr(0, colon)) &&
         segment_ok(rest.substr(colon + 1));
}

// 26 Crockford base32 characters, any case, the first at most '7'.
bool ReferenceIsUlid(absl::string_view id) {
  constexpr absl::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  if (id.size() != 26) return false;
  for (char c : id) {
    char upper = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (kAlphabet.find(upper) == absl::string_view::npos) return false;
  }
  return id[0] >= '0' && id[0] <= '7';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::string printable(text.substr(0, 100));

  FUZZ_CHECK(asap::IsAgentUrn(text) == ReferenceIsAgentUrn(text),
             "IsAgentUrn('%s') is %d", printable.c_str(),
             asap::IsAgentUrn(text));
  FUZZ_CHECK(asap::IsUlid(text) == ReferenceIsUlid(text), "IsUlid('%s') is %d",
             printable.c_str(), asap::IsUlid(text));

  absl::StatusOr<absl::Time> time = asap::ParseTimestamp(text);
  if (!time.ok()) return 0;
  // Whatever parses, formats to a timestamp that parses back to the same
  // time at the microsecond precision FormatTimestamp writes, and formats
  // the same again.
  std::string formatted = asap::FormatTimestamp(*time);
  absl::StatusOr<absl::Time> reparsed = asap::ParseTimestamp(formatted);
  FUZZ_CHECK(reparsed.ok(), "'%s' -> '%s' does not parse", printable.c_str(),
             formatted.c_str());
  FUZZ_CHECK(asap::FormatTimestamp(*reparsed) == formatted,
             "'%s' -> '%s' -> '%s'", printable.c_str(), formatted.c_str(),
             asap::FormatTimestamp(*reparsed).c_str());
  FUZZ_CHECK(absl::AbsDuration(*reparsed - *time) < absl::Microseconds(1),
             "'%s' -> '%s' moved the time", printable.c_str(),
             formatted.c_str());
  // A ULID made at any parsed time is a ULID.
  std::string ulid = asap::NewUlid(*time);
  FUZZ_CHECK(asap::IsUlid(ulid), "NewUlid at '%s' is '%s'", printable.c_str(),
             ulid.c_str());
  return 0;
}
