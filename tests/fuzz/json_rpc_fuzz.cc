// Fuzzes the HTTP binding's JSON-RPC body parser (server/http/json_rpc.h):
// any body yields a parse error, an over-the-limits refusal, or requests each
// with either an envelope or an error, and every error answer is valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "google/protobuf/stubs/logging.h"
#include "rapidjson/document.h"
#include "server/http/json_rpc.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool IsJson(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str(), text.size());
  return !document.HasParseError();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static google::protobuf::LogSilencer quiet;
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  asap::JsonRpcBodyLimits limits;
  limits.max_json_values = 2000;
  limits.max_depth = 20;
  limits.max_batch_items = 8;
  // The first byte picks the protocol version, as the header would.
  asap::ProtocolVersion version =
      asap::NegotiateProtocolVersion(size > 0 && (data[0] & 1) ? "2.2" : "1.0");
  absl::StatusOr<asap::JsonRpcBody> parsed =
      asap::ParseJsonRpcBody(body, limits, version);
  if (!parsed.ok()) {
    FUZZ_CHECK(asap::ErrorCodeOf(parsed.status()) ==
                   asap::ErrorCode::kResourceExhausted,
               "%s", std::string(parsed.status().message()).c_str());
    return 0;
  }
  FUZZ_CHECK(parsed->json_values <= limits.max_json_values, "%lld values",
             static_cast<long long>(parsed->json_values));
  if (parsed->parse_error.has_value()) {
    std::string answer =
        asap::JsonRpcErrorResponse(*parsed->parse_error, "null");
    FUZZ_CHECK(IsJson(answer), "not JSON: %s", answer.c_str());
    return 0;
  }
  FUZZ_CHECK(!parsed->items.empty(), "no requests and no error");
  FUZZ_CHECK(parsed->items.size() <= limits.max_batch_items, "%zu items",
             parsed->items.size());
  for (const asap::JsonRpcItem& item : parsed->items) {
    FUZZ_CHECK(IsJson(item.id_json), "id not JSON: %s", item.id_json.c_str());
    if (item.error.has_value()) {
      std::string answer =
          asap::JsonRpcErrorResponse(*item.error, item.id_json);
      FUZZ_CHECK(IsJson(answer), "not JSON: %s", answer.c_str());
    } else {
      std::string answer =
          asap::JsonRpcResultResponse(item.envelope, item.id_json, version);
      FUZZ_CHECK(IsJson(answer), "not JSON: %s", answer.c_str());
    }
  }
  return 0;
}
