// Fuzzes what the client reads from an HTTP server (client/http/
// json_rpc_client.h): any answer body yields an envelope or an ASAP error with
// a short message, a batch answer has exactly one result per request, and the
// header readers (Retry-After, Cache-Control) never fail or go negative.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "client/http/json_rpc_client.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// Error messages quote at most ~200 bytes of what the server sent (twice:
// message and data), plus the fixed text around them.
constexpr size_t kMaxMessageBytes = 1024;

void CheckError(const absl::Status& status) {
  FUZZ_CHECK(!status.ok(), "an error without a code");
  FUZZ_CHECK(asap::ErrorCodeOf(status).has_value(), "no ASAP code: %s",
             std::string(status.message()).c_str());
  FUZZ_CHECK(status.message().size() <= kMaxMessageBytes,
             "a message of %zu bytes", status.message().size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static google::protobuf::LogSilencer quiet;
  absl::string_view body(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<asap::v1::Envelope> one =
      asap::internal::ParseJsonRpcSendAnswer(body);
  if (!one.ok()) CheckError(one.status());

  const size_t count = size % 7;
  const int64_t first_id = static_cast<int64_t>(size % 3) - 1;
  auto batch = asap::internal::ParseJsonRpcBatchAnswer(body, first_id, count);
  if (!batch.ok()) {
    CheckError(batch.status());
  } else {
    FUZZ_CHECK(batch->size() == count, "%zu results for %zu requests",
               batch->size(), count);
    for (const auto& result : *batch) {
      if (!result.ok()) CheckError(result.status());
    }
  }

  const int status = size > 0 ? 100 + data[0] * 2 : 500;
  CheckError(asap::internal::HttpStatusError(status, body, "http://fuzz"));

  const absl::Time now = absl::FromUnixSeconds(1700000000);
  if (auto after = asap::internal::ParseRetryAfter(body, now)) {
    FUZZ_CHECK(*after >= absl::ZeroDuration(), "negative Retry-After");
  }
  if (auto max_age = asap::internal::ParseMaxAge(body)) {
    FUZZ_CHECK(*max_age >= absl::ZeroDuration(), "negative max-age");
  }
  return 0;
}
