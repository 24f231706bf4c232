// The parsers of text from the network: RFC 3339 timestamps, ULIDs and agent
// URNs. A timestamp that parses formats and parses back to the same time.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "asap/ids.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)asap::IsUlid(text);
  (void)asap::IsAgentUrn(text);
  absl::StatusOr<absl::Time> time = asap::ParseTimestamp(text);
  if (time.ok()) {
    absl::StatusOr<absl::Time> again =
        asap::ParseTimestamp(asap::FormatTimestamp(*time));
    if (!again.ok()) std::abort();
  }
  return 0;
}
