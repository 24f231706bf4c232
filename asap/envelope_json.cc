#include "asap/envelope_json.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/charconv.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asap/errors.h"
#include "asap/json_escape.h"
#include "google/protobuf/struct.pb.h"

namespace asap {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// protobuf's binary parser (which EnvelopeFromJson ends in) refuses messages
// nested deeper than this below the envelope.
constexpr int kMaxMessageDepth = 100;

enum class FieldKind { kString, kStruct };

struct EnvelopeField {
  absl::string_view name;
  absl::string_view json_name;
  FieldKind kind;
  const std::string& (v1::Envelope::*string)() const;
  std::string* (v1::Envelope::*mutable_string)();
  const Struct& (v1::Envelope::*structure)() const;
  Struct* (v1::Envelope::*mutable_struct)();
  bool (v1::Envelope::*has_struct)() const;
};

constexpr EnvelopeField StringField(
    absl::string_view name, absl::string_view json_name,
    const std::string& (v1::Envelope::*string)() const,
    std::string* (v1::Envelope::*mutable_string)()) {
  return {name,    json_name,      FieldKind::kString,
          string,  mutable_string, nullptr,
          nullptr, nullptr};
}

constexpr EnvelopeField StructField(absl::string_view name,
                                    const Struct& (v1::Envelope::*structure)()
                                        const,
                                    Struct* (v1::Envelope::*mutable_struct)(),
                                    bool (v1::Envelope::*has_struct)() const) {
  return {name,    name,      FieldKind::kStruct, nullptr,
          nullptr, structure, mutable_struct,     has_struct};
}

// In proto field order.
const EnvelopeField kFields[] = {
    StringField("id", "id", &v1::Envelope::id, &v1::Envelope::mutable_id),
    StringField("asap_version", "asapVersion", &v1::Envelope::asap_version,
                &v1::Envelope::mutable_asap_version),
    StringField("timestamp", "timestamp", &v1::Envelope::timestamp,
                &v1::Envelope::mutable_timestamp),
    StringField("sender", "sender", &v1::Envelope::sender,
                &v1::Envelope::mutable_sender),
    StringField("recipient", "recipient", &v1::Envelope::recipient,
                &v1::Envelope::mutable_recipient),
    StringField("payload_type", "payloadType", &v1::Envelope::payload_type,
                &v1::Envelope::mutable_payload_type),
    StructField("payload", &v1::Envelope::payload,
                &v1::Envelope::mutable_payload, &v1::Envelope::has_payload),
    StringField("correlation_id", "correlationId",
                &v1::Envelope::correlation_id,
                &v1::Envelope::mutable_correlation_id),
    StringField("trace_id", "traceId", &v1::Envelope::trace_id,
                &v1::Envelope::mutable_trace_id),
    StructField("extensions", &v1::Envelope::extensions,
                &v1::Envelope::mutable_extensions,
                &v1::Envelope::has_extensions),
};

const EnvelopeField* FindField(absl::string_view name) {
  for (const EnvelopeField& field : kFields) {
    if (name == field.name || name == field.json_name) return &field;
  }
  return nullptr;
}

absl::Status Malformed(absl::string_view detail) {
  return AsapError(ErrorCode::kMalformedEnvelope,
                   absl::StrCat("invalid asap.v1.Envelope JSON: ", detail));
}

absl::string_view TypeName(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "a list";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

absl::string_view View(const rapidjson::Value& string) {
  return absl::string_view(string.GetString(), string.GetStringLength());
}

// RapidJSON (validating the encoding) turns only a "\udc00" escape without
// a high surrogate before it into a surrogate's UTF-8 (ED B0..BF xx);
// protobuf's tokenizer refuses that escape.
absl::Status CheckString(absl::string_view text) {
  const char* at = text.data();
  const char* end = at + text.size();
  while ((at = static_cast<const char*>(std::memchr(
              at, '\xED', static_cast<size_t>(end - at)))) != nullptr) {
    if (end - at > 1 && static_cast<unsigned char>(at[1]) >= 0xA0) {
      return Malformed("Invalid unicode code point.");
    }
    ++at;
  }
  return absl::OkStatus();
}

absl::Status TooDeep() {
  return Malformed(absl::StrCat("JSON nests deeper than ", kMaxMessageDepth,
                                " protobuf messages"));
}

absl::Status ToStruct(const rapidjson::Value& object, int depth, Struct* out);

// `depth` is the message depth of `out`.
absl::Status ToValue(const rapidjson::Value& json, int depth, Value* out) {
  switch (json.GetType()) {
    case rapidjson::kNullType:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case rapidjson::kFalseType:
      out->set_bool_value(false);
      return absl::OkStatus();
    case rapidjson::kTrueType:
      out->set_bool_value(true);
      return absl::OkStatus();
    case rapidjson::kNumberType: {
      double number = json.GetDouble();
      if (!std::isfinite(number)) {
        return Malformed("Number exceeds the range of double.");
      }
      out->set_number_value(number);
      return absl::OkStatus();
    }
    case rapidjson::kStringType: {
      absl::string_view text = View(json);
      if (absl::Status status = CheckString(text); !status.ok()) return status;
      out->set_string_value(text.data(), text.size());
      return absl::OkStatus();
    }
    case rapidjson::kObjectType:
      if (depth + 1 > kMaxMessageDepth) return TooDeep();
      return ToStruct(json, depth + 1, out->mutable_struct_value());
    case rapidjson::kArrayType: {
      if (depth + 1 > kMaxMessageDepth) return TooDeep();
      ListValue* list = out->mutable_list_value();
      if (json.Empty()) return absl::OkStatus();
      if (depth + 2 > kMaxMessageDepth) return TooDeep();
      list->mutable_values()->Reserve(static_cast<int>(json.Size()));
      for (const rapidjson::Value& element : json.GetArray()) {
        absl::Status status = ToValue(element, depth + 2, list->add_values());
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    }
  }
  return Malformed("unexpected JSON value");
}

// `depth` is the message depth of `out`; each member is a map entry (depth
// + 1) holding a Value (depth + 2).
absl::Status ToStruct(const rapidjson::Value& object, int depth, Struct* out) {
  if (object.MemberCount() == 0) return absl::OkStatus();
  if (depth + 2 > kMaxMessageDepth) return TooDeep();
  auto* fields = out->mutable_fields();
  for (const auto& member : object.GetObject()) {
    absl::string_view key = View(member.name);
    if (absl::Status status = CheckString(key); !status.ok()) return status;
    auto [it, inserted] = fields->try_emplace(std::string(key));
    if (!inserted) {
      return Malformed(absl::StrCat("Repeated map key: '", key.substr(0, 64),
                                    "' is already set."));
    }
    absl::Status status = ToValue(member.value, depth + 2, &it->second);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// protobuf's SimpleDtoa: 15 significant digits when they read back exactly,
// else 17; non-finite numbers as the strings protobuf writes.
void AppendNumber(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  // The common case, written as "%.15g" would write it.
  if (value > -1e15 && value < 1e15 && value == std::trunc(value)) {
    if (value == 0 && std::signbit(value)) {
      out->append("-0");
    } else {
      absl::StrAppend(out, static_cast<int64_t>(value));
    }
    return;
  }
  char buffer[32];
  int size = std::snprintf(buffer, sizeof(buffer), "%.15g", value);
  if (std::strtod(buffer, nullptr) != value) {
    size = std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  }
  out->append(buffer, static_cast<size_t>(size));
}

void AppendStruct(const Struct& value, std::string* out);

void AppendValue(const Value& value, std::string* out) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      out->append("null");
      break;
    case Value::kNumberValue:
      AppendNumber(value.number_value(), out);
      break;
    case Value::kStringValue:
      AppendJsonString(value.string_value(), JsonEscaping::kProtobuf, out);
      break;
    case Value::kBoolValue:
      out->append(value.bool_value() ? "true" : "false");
      break;
    case Value::kStructValue:
      AppendStruct(value.struct_value(), out);
      break;
    case Value::kListValue: {
      out->push_back('[');
      bool first = true;
      for (const Value& element : value.list_value().values()) {
        // protobuf leaves out a Value without a kind.
        if (element.kind_case() == Value::KIND_NOT_SET) continue;
        if (!first) out->push_back(',');
        first = false;
        AppendValue(element, out);
      }
      out->push_back(']');
      break;
    }
    case Value::KIND_NOT_SET:
      out->append("null");
      break;
  }
}

// Members in the map's iteration order, the order protobuf serializes (and
// so prints) them in.
void AppendStruct(const Struct& value, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [key, field] : value.fields()) {
    if (field.kind_case() == Value::KIND_NOT_SET) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(key, JsonEscaping::kProtobuf, out);
    out->push_back(':');
    AppendValue(field, out);
  }
  out->push_back('}');
}

}  // namespace

JsonNumber ReadJsonNumber(absl::string_view text) {
  JsonNumber number;
  if (text.find_first_of(".eE") == absl::string_view::npos) {
    if (!text.empty() && text[0] == '-') {
      if (absl::SimpleAtoi(text, &number.int64)) {
        number.kind = JsonNumber::Kind::kInt64;
        return number;
      }
    } else if (absl::SimpleAtoi(text, &number.uint64)) {
      number.kind = JsonNumber::Kind::kUint64;
      return number;
    }
  }
  // absl::from_chars rounds to nearest as strtod does, but past the range
  // of a double gives the largest double where strtod gives an infinity.
  absl::from_chars_result result =
      absl::from_chars(text.data(), text.data() + text.size(), number.value);
  if (result.ec == std::errc::result_out_of_range &&
      std::fabs(number.value) > 1) {
    number.value = std::copysign(HUGE_VAL, number.value);
  }
  return number;
}

rapidjson::ParseResult ParseJsonDocument(absl::string_view json,
                                         rapidjson::Document* document) {
  rapidjson::MemoryStream stream(json.data(), json.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>
      input(stream);
  rapidjson::Reader reader;
  rapidjson::ParseResult result;
  auto generator = [&](rapidjson::Document& handler) {
    ExactNumberHandler<rapidjson::Document> exact(&handler);
    result = reader.Parse<kJsonParseFlags>(input, exact);
    return !result.IsError();
  };
  document->Populate(generator);
  return result;
}

absl::StatusOr<v1::Envelope> EnvelopeFromJsonValue(
    const rapidjson::Value& object) {
  if (!object.IsObject()) return Malformed("Root element must be a message.");
  v1::Envelope envelope;
  for (const auto& member : object.GetObject()) {
    absl::string_view name = View(member.name);
    const EnvelopeField* field = FindField(name);
    if (field == nullptr) {
      if (absl::Status status = CheckString(name); !status.ok()) return status;
      return Malformed(
          absl::StrCat(name.substr(0, 64), ": Cannot find field."));
    }
    const rapidjson::Value& value = member.value;
    if (value.IsNull()) continue;
    if (field->kind == FieldKind::kString) {
      if (!value.IsString()) {
        return Malformed(absl::StrCat(field->name, ": expected a string, got ",
                                      TypeName(value)));
      }
      absl::string_view text = View(value);
      if (absl::Status status = CheckString(text); !status.ok()) return status;
      (envelope.*field->mutable_string)()->assign(text.data(), text.size());
      continue;
    }
    if (!value.IsObject()) {
      return Malformed(absl::StrCat(field->name, ": expected an object, got ",
                                    TypeName(value)));
    }
    if (!(envelope.*field->has_struct)()) {
      absl::Status status =
          ToStruct(value, 1, (envelope.*field->mutable_struct)());
      if (!status.ok()) return status;
      continue;
    }
    // A repeated member merges as protobuf's wire format does: each key of
    // the later object replaces that key's value.
    Struct later;
    absl::Status status = ToStruct(value, 1, &later);
    if (!status.ok()) return status;
    auto* fields = (envelope.*field->mutable_struct)()->mutable_fields();
    for (auto& [key, field_value] : *later.mutable_fields()) {
      (*fields)[key] = std::move(field_value);
    }
  }
  return envelope;
}

void AppendEnvelopeJson(const v1::Envelope& envelope, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const EnvelopeField& field : kFields) {
    if (field.kind == FieldKind::kString) {
      const std::string& text = (envelope.*field.string)();
      if (text.empty()) continue;
      if (!first) out->push_back(',');
      first = false;
      out->push_back('"');
      out->append(field.name.data(), field.name.size());
      out->append("\":");
      AppendJsonString(text, JsonEscaping::kProtobuf, out);
      continue;
    }
    if (!(envelope.*field.has_struct)()) continue;
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(field.name.data(), field.name.size());
    out->append("\":");
    AppendStruct((envelope.*field.structure)(), out);
  }
  out->push_back('}');
}

}  // namespace asap
