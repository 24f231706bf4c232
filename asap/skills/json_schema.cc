#include "asap/skills/json_schema.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asap/json_escape.h"

namespace asap::skills {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::OneofDescriptor;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kSchemaUri[] = "https://json-schema.org/draft/2020-12/schema";

Value String(absl::string_view text) {
  Value value;
  value.set_string_value(std::string(text));
  return value;
}

Value Number(double number) {
  Value value;
  value.set_number_value(number);
  return value;
}

Value Bool(bool flag) {
  Value value;
  value.set_bool_value(flag);
  return value;
}

Value List(std::vector<Value> items) {
  Value value;
  ListValue* list = value.mutable_list_value();
  for (Value& item : items) *list->add_values() = std::move(item);
  return value;
}

Value Object(std::vector<std::pair<std::string, Value>> members) {
  Value value;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  for (auto& [key, member] : members) fields[key] = std::move(member);
  return value;
}

Value Type(absl::string_view type) { return Object({{"type", String(type)}}); }

Value Types(std::vector<absl::string_view> types) {
  std::vector<Value> names;
  for (absl::string_view type : types) names.push_back(String(type));
  return Object({{"type", List(std::move(names))}});
}

Value Ref(const std::string& target) {
  return Object({{"$ref", String(target)}});
}

// A schema of a number the mapping writes as a JSON number or, for values
// JSON has no number for, one of these strings.
Value FloatingPoint(bool nullable) {
  std::vector<Value> types = {String("number")};
  if (nullable) types.push_back(String("null"));
  return Object(
      {{"anyOf", List({Object({{"type", List(std::move(types))}}),
                       Object({{"enum", List({String("NaN"), String("Infinity"),
                                              String("-Infinity")})}})})}});
}

Value Integer(double minimum, double maximum) {
  return Object({{"type", String("integer")},
                 {"minimum", Number(minimum)},
                 {"maximum", Number(maximum)}});
}

Value Integer64(bool is_unsigned, bool nullable) {
  std::vector<absl::string_view> types = {"string", "integer"};
  if (nullable) types.push_back("null");
  Value schema = Types(types);
  auto& fields = *schema.mutable_struct_value()->mutable_fields();
  fields["pattern"] = String(is_unsigned ? "^[0-9]+$" : "^-?[0-9]+$");
  fields["format"] = String(is_unsigned ? "uint64" : "int64");
  return schema;
}

Value Bytes(bool nullable) {
  Value schema = nullable ? Types({"string", "null"}) : Type("string");
  (*schema.mutable_struct_value()->mutable_fields())["contentEncoding"] =
      String("base64");
  return schema;
}

// The schema of a well-known type as the JSON mapping writes it; nullopt
// for other messages.
std::optional<Value> WellKnownSchema(const Descriptor& message) {
  const std::string& name = message.full_name();
  if (name == "google.protobuf.Timestamp") {
    return Object(
        {{"type", String("string")}, {"format", String("date-time")}});
  }
  if (name == "google.protobuf.Duration") {
    return Object({{"type", String("string")},
                   {"pattern", String("^-?[0-9]+(\\.[0-9]{1,9})?s$")}});
  }
  if (name == "google.protobuf.FieldMask") return Type("string");
  if (name == "google.protobuf.Struct") return Type("object");
  if (name == "google.protobuf.ListValue") return Type("array");
  if (name == "google.protobuf.Value") return Object({});
  if (name == "google.protobuf.Empty") {
    return Object(
        {{"type", String("object")}, {"additionalProperties", Bool(false)}});
  }
  if (name == "google.protobuf.Any") {
    return Object({{"type", String("object")},
                   {"properties",
                    Object({{"@type", Object({{"type", String("string")}})}})},
                   {"required", List({String("@type")})}});
  }
  if (name == "google.protobuf.Int32Value") {
    Value schema = Integer(-2147483648.0, 2147483647.0);
    (*schema.mutable_struct_value()->mutable_fields())["type"] =
        List({String("integer"), String("null")});
    return schema;
  }
  if (name == "google.protobuf.UInt32Value") {
    Value schema = Integer(0, 4294967295.0);
    (*schema.mutable_struct_value()->mutable_fields())["type"] =
        List({String("integer"), String("null")});
    return schema;
  }
  if (name == "google.protobuf.Int64Value") return Integer64(false, true);
  if (name == "google.protobuf.UInt64Value") return Integer64(true, true);
  if (name == "google.protobuf.FloatValue" ||
      name == "google.protobuf.DoubleValue") {
    return FloatingPoint(true);
  }
  if (name == "google.protobuf.BoolValue") return Types({"boolean", "null"});
  if (name == "google.protobuf.StringValue") return Types({"string", "null"});
  if (name == "google.protobuf.BytesValue") return Bytes(true);
  return std::nullopt;
}

class SchemaBuilder {
 public:
  SchemaBuilder(const Descriptor& root, const SchemaOptions& options)
      : root_(root), options_(options) {}

  absl::StatusOr<Value> Build() {
    if (std::optional<Value> known = WellKnownSchema(root_)) {
      return Finish(*std::move(known), Struct());
    }
    queue_.push_back({&root_, 0});
    depth_[root_.full_name()] = 0;
    Struct defs;
    Value root_schema;
    while (!queue_.empty()) {
      auto [message, depth] = queue_.front();
      queue_.pop_front();
      absl::StatusOr<Value> schema = MessageSchema(*message, depth);
      if (!schema.ok()) return schema.status();
      if (message == &root_) {
        root_schema = *std::move(schema);
      } else {
        (*defs.mutable_fields())[message->full_name()] = *std::move(schema);
      }
    }
    return Finish(std::move(root_schema), std::move(defs));
  }

 private:
  Value Finish(Value schema, Struct defs) {
    auto& fields = *schema.mutable_struct_value()->mutable_fields();
    if (options_.include_schema_uri) fields["$schema"] = String(kSchemaUri);
    fields["title"] = String(root_.full_name());
    if (!defs.fields().empty()) {
      *fields["$defs"].mutable_struct_value() = std::move(defs);
    }
    return schema;
  }

  // A `$ref` to `message`'s definition, queued the first time it is seen.
  absl::StatusOr<Value> RefTo(const Descriptor& message, int depth) {
    if (&message == &root_) return Ref("#");
    if (depth_.find(message.full_name()) == depth_.end()) {
      if (static_cast<int>(depth_.size()) >= options_.max_definitions) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the JSON Schema of ", root_.full_name(), " needs more than ",
            options_.max_definitions,
            " message definitions (SchemaOptions::max_definitions)"));
      }
      if (depth + 1 > options_.max_depth) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "the JSON Schema of ", root_.full_name(), " nests message ",
            message.full_name(), " deeper than ", options_.max_depth,
            " levels (SchemaOptions::max_depth)"));
      }
      depth_[message.full_name()] = depth + 1;
      queue_.push_back({&message, depth + 1});
    }
    return Ref(absl::StrCat("#/$defs/", message.full_name()));
  }

  static Value EnumSchema(const EnumDescriptor& enumeration, bool nullable) {
    std::vector<Value> names;
    for (int i = 0; i < enumeration.value_count(); ++i) {
      names.push_back(String(enumeration.value(i)->name()));
    }
    if (enumeration.full_name() == "google.protobuf.NullValue") {
      return Type("null");
    }
    if (nullable) names.push_back(Value());  // null_value: JSON null
    Value schema = Object({{"enum", List(std::move(names))}});
    auto& fields = *schema.mutable_struct_value()->mutable_fields();
    fields["type"] =
        nullable ? List({String("string"), String("null")}) : String("string");
    fields["title"] = String(enumeration.full_name());
    return schema;
  }

  // The schema of one value of `field` (an element, for repeated fields).
  absl::StatusOr<Value> ValueSchema(const FieldDescriptor& field, int depth) {
    switch (field.type()) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return Integer(-2147483648.0, 2147483647.0);
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return Integer(0, 4294967295.0);
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return Integer64(false, false);
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return Integer64(true, false);
      case FieldDescriptor::TYPE_FLOAT:
      case FieldDescriptor::TYPE_DOUBLE:
        return FloatingPoint(false);
      case FieldDescriptor::TYPE_BOOL:
        return Type("boolean");
      case FieldDescriptor::TYPE_STRING:
        return Type("string");
      case FieldDescriptor::TYPE_BYTES:
        return Bytes(false);
      case FieldDescriptor::TYPE_ENUM:
        return EnumSchema(*field.enum_type(), false);
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        if (std::optional<Value> known =
                WellKnownSchema(*field.message_type())) {
          return *std::move(known);
        }
        return RefTo(*field.message_type(), depth);
    }
    return absl::InternalError("unknown field type");
  }

  static Value KeyNames(const FieldDescriptor& key) {
    switch (key.cpp_type()) {
      case FieldDescriptor::CPPTYPE_BOOL:
        return Object({{"enum", List({String("true"), String("false")})}});
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
        return Object({{"pattern", String("^-?[0-9]+$")}});
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
        return Object({{"pattern", String("^[0-9]+$")}});
      default:
        return Value();
    }
  }

  absl::StatusOr<Value> FieldSchema(const FieldDescriptor& field, int depth) {
    if (field.is_map()) {
      const Descriptor& entry = *field.message_type();
      absl::StatusOr<Value> value = ValueSchema(*entry.map_value(), depth);
      if (!value.ok()) return value.status();
      Value schema = Object({{"type", String("object")},
                             {"additionalProperties", *std::move(value)}});
      Value keys = KeyNames(*entry.map_key());
      if (keys.has_struct_value()) {
        (*schema.mutable_struct_value()->mutable_fields())["propertyNames"] =
            std::move(keys);
      }
      return schema;
    }
    absl::StatusOr<Value> value = ValueSchema(field, depth);
    if (!value.ok() || !field.is_repeated()) return value;
    return Object({{"type", String("array")}, {"items", *std::move(value)}});
  }

  const std::string& NameOf(const FieldDescriptor& field) const {
    return options_.field_names == FieldNames::kJsonName ? field.json_name()
                                                         : field.name();
  }

  // At most one field of `oneof`: exactly one of them, or none.
  Value OneofSchema(const OneofDescriptor& oneof) const {
    std::vector<Value> branches;
    std::vector<Value> any_present;
    for (int i = 0; i < oneof.field_count(); ++i) {
      Value present =
          Object({{"required", List({String(NameOf(*oneof.field(i)))})}});
      branches.push_back(present);
      any_present.push_back(std::move(present));
    }
    branches.push_back(
        Object({{"not", Object({{"anyOf", List(std::move(any_present))}})}}));
    return Object({{"oneOf", List(std::move(branches))}});
  }

  absl::StatusOr<Value> MessageSchema(const Descriptor& message, int depth) {
    Struct properties;
    std::vector<Value> required;
    for (int i = 0; i < message.field_count(); ++i) {
      const FieldDescriptor& field = *message.field(i);
      absl::StatusOr<Value> schema = FieldSchema(field, depth);
      if (!schema.ok()) return schema.status();
      (*properties.mutable_fields())[NameOf(field)] = *std::move(schema);
      if (field.is_required()) required.push_back(String(NameOf(field)));
    }
    Value schema = Object(
        {{"type", String("object")}, {"additionalProperties", Bool(false)}});
    auto& fields = *schema.mutable_struct_value()->mutable_fields();
    if (&message != &root_) fields["title"] = String(message.full_name());
    *fields["properties"].mutable_struct_value() = std::move(properties);
    if (!required.empty()) fields["required"] = List(std::move(required));
    std::vector<Value> oneofs;
    for (int i = 0; i < message.real_oneof_decl_count(); ++i) {
      oneofs.push_back(OneofSchema(*message.oneof_decl(i)));
    }
    if (oneofs.size() == 1) {
      fields["oneOf"] = std::move(
          (*oneofs[0].mutable_struct_value()->mutable_fields())["oneOf"]);
    } else if (!oneofs.empty()) {
      fields["allOf"] = List(std::move(oneofs));
    }
    return schema;
  }

  const Descriptor& root_;
  const SchemaOptions& options_;
  std::deque<std::pair<const Descriptor*, int>> queue_;
  // Message types seen, with their depth from the root.
  absl::flat_hash_map<std::string, int> depth_;
};

void AppendStable(const Value& value, int indent, std::string* out) {
  const std::string pad(2 * (indent + 1), ' ');
  const std::string close_pad(2 * indent, ' ');
  switch (value.kind_case()) {
    case Value::kNumberValue: {
      double number = value.number_value();
      if (std::floor(number) == number && std::fabs(number) < 1e18) {
        absl::StrAppend(out, static_cast<int64_t>(number));
      } else {
        absl::StrAppend(out, number);
      }
      return;
    }
    case Value::kStringValue:
      AppendJsonString(value.string_value(), JsonEscaping::kMinimal, out);
      return;
    case Value::kBoolValue:
      out->append(value.bool_value() ? "true" : "false");
      return;
    case Value::kStructValue: {
      const auto& fields = value.struct_value().fields();
      if (fields.empty()) {
        out->append("{}");
        return;
      }
      std::vector<absl::string_view> keys;
      for (const auto& [key, unused] : fields) keys.push_back(key);
      std::sort(keys.begin(), keys.end());
      out->append("{\n");
      for (size_t i = 0; i < keys.size(); ++i) {
        out->append(pad);
        AppendJsonString(keys[i], JsonEscaping::kMinimal, out);
        out->append(": ");
        AppendStable(fields.at(std::string(keys[i])), indent + 1, out);
        out->append(i + 1 < keys.size() ? ",\n" : "\n");
      }
      out->append(close_pad);
      out->push_back('}');
      return;
    }
    case Value::kListValue: {
      const auto& values = value.list_value().values();
      if (values.empty()) {
        out->append("[]");
        return;
      }
      out->append("[\n");
      for (int i = 0; i < values.size(); ++i) {
        out->append(pad);
        AppendStable(values[i], indent + 1, out);
        out->append(i + 1 < values.size() ? ",\n" : "\n");
      }
      out->append(close_pad);
      out->push_back(']');
      return;
    }
    default:
      out->append("null");
  }
}

}  // namespace

std::string StableJson(const Value& value) {
  std::string out;
  AppendStable(value, 0, &out);
  out.push_back('\n');
  return out;
}

absl::StatusOr<Struct> JsonSchemaStructFor(const Descriptor& descriptor,
                                           const SchemaOptions& options) {
  absl::StatusOr<Value> schema = SchemaBuilder(descriptor, options).Build();
  if (!schema.ok()) return schema.status();
  return std::move(*schema->mutable_struct_value());
}

absl::StatusOr<std::string> JsonSchemaFor(const Descriptor& descriptor,
                                          const SchemaOptions& options) {
  absl::StatusOr<Value> schema = SchemaBuilder(descriptor, options).Build();
  if (!schema.ok()) return schema.status();
  return StableJson(*schema);
}

}  // namespace asap::skills
