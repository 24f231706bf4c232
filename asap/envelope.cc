#include "asap/envelope.h"

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asap/errors.h"
#include "asap/ids.h"

namespace asap {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

enum class Kind { kString, kObject, kBool, kInteger, kStringArray };

struct FieldRule {
  const char* name;
  Kind kind;
  bool required;
  // Allowed values of a string field; empty = any.
  std::vector<std::string> allowed = {};
};

struct PayloadSchema {
  std::vector<FieldRule> fields;
  // McpToolResult: exactly one of result and error.
  bool exactly_one_of_result_error = false;
};

const std::vector<std::string>& TaskStatuses() {
  static const auto* statuses =
      new std::vector<std::string>{"submitted", "working",   "completed",
                                   "failed",    "cancelled", "input_required"};
  return *statuses;
}

// The payload schemas of ASAP v1.0 (the reference's payloads/*.schema.json),
// keyed by both spellings of each payload type.
const absl::flat_hash_map<std::string, PayloadSchema>& Schemas() {
  static const auto* schemas = [] {
    auto* map = new absl::flat_hash_map<std::string, PayloadSchema>();
    auto add = [map](std::initializer_list<const char*> names,
                     PayloadSchema schema) {
      for (const char* name : names) (*map)[name] = schema;
    };
    add({"task.request", "TaskRequest"},
        {{{"conversation_id", Kind::kString, true},
          {"parent_task_id", Kind::kString, false},
          {"skill_id", Kind::kString, true},
          {"input", Kind::kObject, true},
          {"config", Kind::kObject, false}}});
    add({"task.response", "TaskResponse"},
        {{{"task_id", Kind::kString, true},
          {"status", Kind::kString, true, TaskStatuses()},
          {"result", Kind::kObject, false},
          {"final_state", Kind::kObject, false},
          {"metrics", Kind::kObject, false}}});
    add({"task.update", "TaskUpdate"},
        {{{"task_id", Kind::kString, true},
          {"update_type",
           Kind::kString,
           true,
           {"progress", "input_required", "status_change"}},
          {"status", Kind::kString, true, TaskStatuses()},
          {"progress", Kind::kObject, false},
          {"input_request", Kind::kObject, false}}});
    add({"task.cancel", "TaskCancel"},
        {{{"task_id", Kind::kString, true}, {"reason", Kind::kString, false}}});
    add({"message.send", "MessageSend"},
        {{{"task_id", Kind::kString, true},
          {"message_id", Kind::kString, true},
          {"sender", Kind::kString, true},
          {"role", Kind::kString, true},
          {"parts", Kind::kStringArray, true}}});
    add({"state.query", "StateQuery"}, {{{"task_id", Kind::kString, true},
                                         {"version", Kind::kInteger, false}}});
    add({"state.restore", "StateRestore"},
        {{{"task_id", Kind::kString, true},
          {"snapshot_id", Kind::kString, true}}});
    add({"artifact.notify", "ArtifactNotify"},
        {{{"artifact_id", Kind::kString, true},
          {"task_id", Kind::kString, true},
          {"name", Kind::kString, false}}});
    add({"mcp.tool_call", "McpToolCall"},
        {{{"request_id", Kind::kString, true},
          {"tool_name", Kind::kString, true},
          {"arguments", Kind::kObject, true},
          {"mcp_context", Kind::kObject, false}}});
    add({"mcp.tool_result", "McpToolResult"},
        {{{"request_id", Kind::kString, true},
          {"success", Kind::kBool, true},
          {"result", Kind::kObject, false},
          {"error", Kind::kString, false}},
         /*exactly_one_of_result_error=*/true});
    add({"mcp.resource_fetch", "McpResourceFetch"},
        {{{"resource_uri", Kind::kString, true}}});
    add({"mcp.resource_data", "McpResourceData"},
        {{{"resource_uri", Kind::kString, true},
          {"content", Kind::kObject, true}}});
    return map;
  }();
  return *schemas;
}

const absl::flat_hash_set<std::string>& ResponseTypes() {
  static const auto* types = new absl::flat_hash_set<std::string>{
      "task.response", "TaskResponse",      "mcp.tool_result",
      "McpToolResult", "mcp.resource_data", "McpResourceData"};
  return *types;
}

absl::Status Malformed(absl::string_view detail) {
  return AsapError(ErrorCode::kMalformedEnvelope, detail);
}

absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kObject:
      return "an object";
    case Kind::kBool:
      return "a boolean";
    case Kind::kInteger:
      return "an integer";
    case Kind::kStringArray:
      return "an array of strings";
  }
  return "?";
}

bool HasKind(const Value& value, Kind kind) {
  switch (kind) {
    case Kind::kString:
      return value.kind_case() == Value::kStringValue;
    case Kind::kObject:
      return value.kind_case() == Value::kStructValue;
    case Kind::kBool:
      return value.kind_case() == Value::kBoolValue;
    case Kind::kInteger: {
      if (value.kind_case() != Value::kNumberValue) return false;
      // Range-checked before the cast: converting NaN, an infinity or a
      // value outside int64 to an integer is undefined behaviour, and the
      // number comes from the network. 2^63 is exactly representable.
      double number = value.number_value();
      constexpr double kTwoTo63 = 9223372036854775808.0;
      if (!(number >= -kTwoTo63 && number < kTwoTo63)) return false;
      return number == static_cast<double>(static_cast<int64_t>(number));
    }
    case Kind::kStringArray:
      if (value.kind_case() != Value::kListValue) return false;
      for (const Value& item : value.list_value().values()) {
        if (item.kind_case() != Value::kStringValue) return false;
      }
      return true;
  }
  return false;
}

bool IsPresent(const Struct& payload, const char* name) {
  auto it = payload.fields().find(name);
  return it != payload.fields().end() &&
         it->second.kind_case() != Value::kNullValue;
}

absl::Status CheckPayload(absl::string_view payload_type,
                          const PayloadSchema& schema, const Struct& payload) {
  for (const FieldRule& rule : schema.fields) {
    auto it = payload.fields().find(rule.name);
    bool present = it != payload.fields().end() &&
                   it->second.kind_case() != Value::kNullValue;
    if (!present) {
      if (rule.required) {
        return Malformed(absl::StrCat("payload of ", payload_type,
                                      " lacks required field '", rule.name,
                                      "'"));
      }
      continue;
    }
    if (!HasKind(it->second, rule.kind)) {
      return Malformed(absl::StrCat("payload field '", rule.name, "' of ",
                                    payload_type, " must be ",
                                    KindName(rule.kind)));
    }
    if (!rule.allowed.empty()) {
      const std::string& text = it->second.string_value();
      bool allowed = false;
      for (const std::string& candidate : rule.allowed) {
        allowed = allowed || candidate == text;
      }
      if (!allowed) {
        return Malformed(absl::StrCat(
            "payload field '", rule.name, "' of ", payload_type, " is '",
            text.substr(0, 64),
            "', expected one of: ", absl::StrJoin(rule.allowed, ", ")));
      }
    }
  }
  for (const auto& [name, value] : payload.fields()) {
    bool known = false;
    for (const FieldRule& rule : schema.fields) {
      known = known || name == rule.name;
    }
    if (!known) {
      return Malformed(absl::StrCat("payload of ", payload_type,
                                    " has unknown field '", name.substr(0, 64),
                                    "'"));
    }
  }
  if (schema.exactly_one_of_result_error &&
      IsPresent(payload, "result") == IsPresent(payload, "error")) {
    return Malformed(absl::StrCat("payload of ", payload_type,
                                  " must have exactly one of 'result' and "
                                  "'error'"));
  }
  return absl::OkStatus();
}

absl::Status CheckUrn(absl::string_view field, absl::string_view urn) {
  if (urn.empty()) return Malformed(absl::StrCat(field, " is required"));
  if (urn.size() > kMaxUrnLength) {
    return Malformed(absl::StrCat(field, " is ", urn.size(),
                                  " characters, at most ", kMaxUrnLength,
                                  " are allowed"));
  }
  if (!IsAgentUrn(urn)) {
    return Malformed(absl::StrCat(
        field, " '", urn.substr(0, 64),
        "' is not an agent URN (urn:asap:agent:<name>[:<sub>], lower-case "
        "letters, digits and '-')"));
  }
  return absl::OkStatus();
}

}  // namespace

void FillEnvelopeDefaults(v1::Envelope* envelope, absl::Time now) {
  if (envelope->id().empty()) envelope->set_id(NewUlid(now));
  if (envelope->timestamp().empty()) {
    envelope->set_timestamp(FormatTimestamp(now));
  }
  if (envelope->asap_version().empty())
    envelope->set_asap_version(kAsapVersion);
}

bool IsResponsePayloadType(absl::string_view payload_type) {
  return ResponseTypes().contains(payload_type);
}

bool IsKnownPayloadType(absl::string_view payload_type) {
  return Schemas().contains(payload_type);
}

absl::Status ValidateEnvelope(const v1::Envelope& envelope, absl::Time now,
                              const ValidationOptions& options) {
  if (envelope.asap_version().empty()) {
    return Malformed("asap_version is required");
  }
  if (envelope.id().size() > kMaxUrnLength) {
    return Malformed("id is longer than 256 characters");
  }
  if (absl::Status s = CheckUrn("sender", envelope.sender()); !s.ok()) return s;
  if (absl::Status s = CheckUrn("recipient", envelope.recipient()); !s.ok()) {
    return s;
  }
  if (envelope.payload_type().empty()) {
    return Malformed("payload_type is required");
  }
  if (!envelope.has_payload()) return Malformed("payload is required");
  if (envelope.timestamp().empty()) {
    return AsapError(ErrorCode::kInvalidTimestamp, "timestamp is required");
  }
  absl::StatusOr<absl::Time> timestamp = absl::InfinitePast();
  if (options.check_timestamp_format || options.check_timestamp_window) {
    timestamp = ParseTimestamp(envelope.timestamp());
    if (!timestamp.ok()) return timestamp.status();
  }
  if (options.check_timestamp_window) {
    if (*timestamp < now - options.max_age) {
      return AsapError(
          ErrorCode::kInvalidTimestamp,
          absl::StrCat("timestamp ", envelope.timestamp(), " is older than ",
                       absl::FormatDuration(options.max_age)));
    }
    if (*timestamp > now + options.max_future) {
      return AsapError(
          ErrorCode::kInvalidTimestamp,
          absl::StrCat("timestamp ", envelope.timestamp(), " is more than ",
                       absl::FormatDuration(options.max_future),
                       " in the future"));
    }
  }
  if (envelope.correlation_id().empty() &&
      IsResponsePayloadType(envelope.payload_type())) {
    return Malformed(absl::StrCat("correlation_id is required on ",
                                  envelope.payload_type()));
  }
  if (envelope.has_extensions()) {
    auto it = envelope.extensions().fields().find("nonce");
    if (it != envelope.extensions().fields().end() &&
        (it->second.kind_case() != Value::kStringValue ||
         it->second.string_value().empty())) {
      return AsapError(ErrorCode::kInvalidNonce,
                       "extensions.nonce must be a non-empty string");
    }
  }
  if (options.check_payload_schema) {
    auto it = Schemas().find(envelope.payload_type());
    if (it != Schemas().end()) {
      return CheckPayload(envelope.payload_type(), it->second,
                          envelope.payload());
    }
  }
  return absl::OkStatus();
}

void CompleteResponse(const v1::Envelope& request, absl::string_view agent_id,
                      absl::Time now, v1::Envelope* response) {
  FillEnvelopeDefaults(response, now);
  response->set_correlation_id(request.id());
  if (response->recipient().empty()) response->set_recipient(request.sender());
  if (response->sender().empty()) {
    response->set_sender(agent_id.empty() ? request.recipient()
                                          : std::string(agent_id));
  }
  if (response->trace_id().empty()) response->set_trace_id(request.trace_id());
}

}  // namespace asap
