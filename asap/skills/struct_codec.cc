#include "asap/skills/struct_codec.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/stubs/strutil.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace asap::skills {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::Struct;
using google::protobuf::Value;

// ---- The JSON-text path: protobuf's own mapping. ----

absl::Status JsonTextToMessage(const Struct& object, Message* message,
                               const CodecOptions& options) {
  std::string json;
  // A Struct always prints.
  (void)google::protobuf::util::MessageToJsonString(object, &json);
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = options.ignore_unknown_fields;
  message->Clear();
  auto status =
      google::protobuf::util::JsonStringToMessage(json, message, parse);
  if (!status.ok()) {
    return AsapError(
        ErrorCode::kMalformedEnvelope,
        absl::StrCat(options.path, " is not a valid ", message->GetTypeName(),
                     ": ", status.message().ToString()));
  }
  return absl::OkStatus();
}

absl::Status MessageToJsonText(const Message& message, Message* out,
                               FieldNames names) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = names == FieldNames::kOriginal;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, print);
  if (status.ok()) {
    status = google::protobuf::util::JsonStringToMessage(json, out);
  }
  if (!status.ok()) {
    return AsapError(ErrorCode::kInternal,
                     absl::StrCat("cannot print ", message.GetTypeName(),
                                  " as JSON: ", status.message().ToString()));
  }
  return absl::OkStatus();
}

// ---- The direct walk. ----

// Where a value sits, built into text only for an error.
struct Path {
  const Path* parent;
  absl::string_view name;  // a field or map key; empty for list elements
  int index;               // a list element's position
};

std::string PathText(const Path& path) {
  std::string parent = path.parent ? PathText(*path.parent) : "";
  if (path.name.empty()) return absl::StrCat(parent, "[", path.index, "]");
  if (parent.empty()) return std::string(path.name);
  return absl::StrCat(parent, ".", path.name);
}

absl::Status Malformed(const Path& path, absl::string_view what) {
  return AsapError(ErrorCode::kMalformedEnvelope,
                   absl::StrCat(PathText(path), ": ", what));
}

std::string Describe(const Value& value) {
  switch (value.kind_case()) {
    case Value::kNullValue:
      return "null";
    case Value::kNumberValue:
      return absl::StrCat("the number ", value.number_value());
    case Value::kStringValue: {
      std::string text = value.string_value().substr(0, 64);
      return absl::StrCat("the string \"", absl::CHexEscape(text), "\"");
    }
    case Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case Value::kStructValue:
      return "an object";
    case Value::kListValue:
      return "an array";
    default:
      return "nothing";
  }
}

// The field JSON spells `name`: by json_name or by its .proto name.
const FieldDescriptor* FieldNamed(const Descriptor& message,
                                  const std::string& name) {
  const FieldDescriptor* field = message.FindFieldByCamelcaseName(name);
  if (field != nullptr && field->json_name() == name) return field;
  field = message.FindFieldByName(name);
  if (field != nullptr) return field;
  // A json_name set in the .proto.
  for (int i = 0; i < message.field_count(); ++i) {
    if (message.field(i)->json_name() == name) return message.field(i);
  }
  return nullptr;
}

bool IsWellKnown(const Descriptor& message) {
  return message.file()->name().rfind("google/protobuf/", 0) == 0;
}

// Parses a number the mapping allows for a numeric field: a JSON number, or
// a string holding one (integers exactly, anything else as strtod does).
bool NumberOf(const Value& value, double* number) {
  if (value.has_number_value()) {
    *number = value.number_value();
    return true;
  }
  if (!value.has_string_value()) return false;
  const std::string& text = value.string_value();
  if (text.empty() || text.front() == ' ' || text.back() == ' ') return false;
  return absl::SimpleAtod(text, number) && std::isfinite(*number);
}

template <typename Int>
absl::Status IntegerOf(const Value& value, const Path& path, Int* out) {
  if (value.has_string_value()) {
    // Exact for every 64-bit value, which a double is not.
    if (absl::SimpleAtoi(value.string_value(), out)) return absl::OkStatus();
  }
  double number;
  if (!NumberOf(value, &number)) {
    return Malformed(
        path, absl::StrCat("expected an integer, got ", Describe(value)));
  }
  // The bounds as doubles: max() + 1 is exact, max() itself may round up.
  constexpr double kLow = static_cast<double>(std::numeric_limits<Int>::min());
  constexpr double kHigh =
      static_cast<double>(std::numeric_limits<Int>::max() / 2 + 1) * 2.0;
  if (std::floor(number) != number) {
    return Malformed(
        path, absl::StrCat("expected an integer, got ", Describe(value)));
  }
  if (!(number >= kLow && number < kHigh)) {
    return Malformed(path, absl::StrCat(Describe(value), " is out of range"));
  }
  *out = static_cast<Int>(number);
  return absl::OkStatus();
}

absl::Status FloatingOf(const Value& value, const Path& path, double* out) {
  if (value.has_string_value()) {
    const std::string& text = value.string_value();
    if (text == "NaN") {
      *out = std::numeric_limits<double>::quiet_NaN();
      return absl::OkStatus();
    }
    if (text == "Infinity") {
      *out = std::numeric_limits<double>::infinity();
      return absl::OkStatus();
    }
    if (text == "-Infinity") {
      *out = -std::numeric_limits<double>::infinity();
      return absl::OkStatus();
    }
  }
  if (!NumberOf(value, out)) {
    return Malformed(path,
                     absl::StrCat("expected a number, got ", Describe(value)));
  }
  return absl::OkStatus();
}

// The strings protobuf's JSON parser takes for a bool (its safe_strtob).
bool BoolFromString(absl::string_view text, bool* out) {
  for (absl::string_view yes : {"true", "t", "yes", "y", "1"}) {
    if (absl::EqualsIgnoreCase(text, yes)) {
      *out = true;
      return true;
    }
  }
  for (absl::string_view no : {"false", "f", "no", "n", "0"}) {
    if (absl::EqualsIgnoreCase(text, no)) {
      *out = false;
      return true;
    }
  }
  return false;
}

class Decoder {
 public:
  explicit Decoder(const CodecOptions& options) : options_(options) {}

  absl::Status Message(const Struct& object, google::protobuf::Message* out,
                       const Path& path, int depth) {
    if (depth > options_.max_depth) {
      return Malformed(path, absl::StrCat("nested deeper than ",
                                          options_.max_depth, " levels"));
    }
    const Descriptor& descriptor = *out->GetDescriptor();
    if (IsWellKnown(descriptor)) {
      Value value;
      *value.mutable_struct_value() = object;
      return WellKnown(value, out, path, depth);
    }
    for (const auto& [key, value] : object.fields()) {
      const FieldDescriptor* field = FieldNamed(descriptor, key);
      Path field_path{&path, key, 0};
      if (field == nullptr) {
        if (options_.ignore_unknown_fields) continue;
        return Malformed(field_path, absl::StrCat("no such field in ",
                                                  descriptor.full_name()));
      }
      absl::Status status = Field(*field, value, out, field_path, depth);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Field(const FieldDescriptor& field, const Value& value,
                     google::protobuf::Message* out, const Path& path,
                     int depth) {
    if (value.has_null_value() && !AcceptsNull(field)) {
      return absl::OkStatus();  // null: the field is not set
    }
    if (field.is_map()) return Map(field, value, out, path, depth);
    if (field.is_repeated()) {
      // Like the mapping's parser: a single value is a list of one, and
      // null elements are skipped.
      if (!value.has_list_value()) {
        return Single(field, value, out, /*repeated=*/true, path, depth);
      }
      const auto& values = value.list_value().values();
      for (int i = 0; i < values.size(); ++i) {
        if (values[i].has_null_value() && !AcceptsNull(field)) continue;
        Path element{&path, "", i};
        absl::Status status =
            Single(field, values[i], out, /*repeated=*/true, element, depth);
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    }
    if (field.real_containing_oneof() != nullptr) {
      const Reflection& reflection = *out->GetReflection();
      if (reflection.HasOneof(*out, field.real_containing_oneof())) {
        return Malformed(path,
                         absl::StrCat("another field of oneof ",
                                      field.real_containing_oneof()->name(),
                                      " is already set"));
      }
    }
    return Single(field, value, out, /*repeated=*/false, path, depth);
  }

  static bool AcceptsNull(const FieldDescriptor& field) {
    if (field.message_type() != nullptr) {
      return field.message_type()->full_name() == "google.protobuf.Value";
    }
    return field.enum_type() != nullptr &&
           field.enum_type()->full_name() == "google.protobuf.NullValue";
  }

  absl::Status Map(const FieldDescriptor& field, const Value& value,
                   google::protobuf::Message* out, const Path& path,
                   int depth) {
    if (!value.has_struct_value()) {
      return Malformed(
          path, absl::StrCat("expected an object, got ", Describe(value)));
    }
    const Reflection& reflection = *out->GetReflection();
    const Descriptor& entry_type = *field.message_type();
    const FieldDescriptor& key_field = *entry_type.map_key();
    const FieldDescriptor& value_field = *entry_type.map_value();
    for (const auto& [key, item] : value.struct_value().fields()) {
      Path item_path{&path, key, 0};
      if (item.has_null_value() && !AcceptsNull(value_field)) {
        return Malformed(item_path, "null is not a valid map value");
      }
      google::protobuf::Message* entry = reflection.AddMessage(out, &field);
      Value key_value;
      if (key_field.cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
        if (key != "true" && key != "false") {
          return Malformed(item_path,
                           "a bool map key is \"true\" or \"false\"");
        }
        key_value.set_bool_value(key == "true");
      } else {
        key_value.set_string_value(key);
      }
      absl::Status status =
          Single(key_field, key_value, entry, false, item_path, depth);
      if (status.ok()) {
        status = Single(value_field, item, entry, false, item_path, depth);
      }
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Sets (or, when `repeated`, adds) one value of `field`.
  absl::Status Single(const FieldDescriptor& field, const Value& value,
                      google::protobuf::Message* out, bool repeated,
                      const Path& path, int depth) {
    const Reflection& r = *out->GetReflection();
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        absl::Status s = IntegerOf(value, path, &v);
        if (!s.ok()) return s;
        repeated ? r.AddInt32(out, &field, v) : r.SetInt32(out, &field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        absl::Status s = IntegerOf(value, path, &v);
        if (!s.ok()) return s;
        repeated ? r.AddInt64(out, &field, v) : r.SetInt64(out, &field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        absl::Status s = IntegerOf(value, path, &v);
        if (!s.ok()) return s;
        repeated ? r.AddUInt32(out, &field, v) : r.SetUInt32(out, &field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        absl::Status s = IntegerOf(value, path, &v);
        if (!s.ok()) return s;
        repeated ? r.AddUInt64(out, &field, v) : r.SetUInt64(out, &field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v;
        absl::Status s = FloatingOf(value, path, &v);
        if (!s.ok()) return s;
        repeated ? r.AddDouble(out, &field, v) : r.SetDouble(out, &field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        absl::Status s = FloatingOf(value, path, &v);
        if (!s.ok()) return s;
        // Like the mapping: a double that rounds to the largest float is
        // that float; one that rounds past it is out of range.
        if (std::isfinite(v) && std::isinf(static_cast<float>(v))) {
          return Malformed(path, absl::StrCat(Describe(value),
                                              " is out of range for a float"));
        }
        float f = static_cast<float>(v);
        repeated ? r.AddFloat(out, &field, f) : r.SetFloat(out, &field, f);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (value.has_bool_value()) {
          v = value.bool_value();
        } else if (!value.has_string_value() ||
                   !BoolFromString(value.string_value(), &v)) {
          return Malformed(path, absl::StrCat("expected true or false, got ",
                                              Describe(value)));
        }
        repeated ? r.AddBool(out, &field, v) : r.SetBool(out, &field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        if (!value.has_string_value()) {
          return Malformed(
              path, absl::StrCat("expected a string, got ", Describe(value)));
        }
        std::string v;
        if (field.type() == FieldDescriptor::TYPE_BYTES) {
          if (!absl::Base64Unescape(value.string_value(), &v) &&
              !absl::WebSafeBase64Unescape(value.string_value(), &v)) {
            return Malformed(path, "expected base64 bytes");
          }
        } else {
          v = value.string_value();
        }
        repeated ? r.AddString(out, &field, std::move(v))
                 : r.SetString(out, &field, std::move(v));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = 0;
        if (field.enum_type()->full_name() == "google.protobuf.NullValue") {
          if (!value.has_null_value()) {
            return Malformed(
                path, absl::StrCat("expected null, got ", Describe(value)));
          }
        } else if (value.has_string_value()) {
          const EnumValueDescriptor* named =
              field.enum_type()->FindValueByName(value.string_value());
          if (named == nullptr) {
            return Malformed(
                path, absl::StrCat(Describe(value), " is not a value of ",
                                   field.enum_type()->full_name()));
          }
          number = named->number();
        } else {
          absl::Status s = IntegerOf(value, path, &number);
          if (!s.ok()) {
            return Malformed(path, absl::StrCat("expected a value of ",
                                                field.enum_type()->full_name(),
                                                ", got ", Describe(value)));
          }
          if (field.enum_type()->file()->syntax() ==
                  google::protobuf::FileDescriptor::SYNTAX_PROTO2 &&
              field.enum_type()->FindValueByNumber(number) == nullptr) {
            return Malformed(path,
                             absl::StrCat(number, " is not a value of ",
                                          field.enum_type()->full_name()));
          }
        }
        repeated ? r.AddEnumValue(out, &field, number)
                 : r.SetEnumValue(out, &field, number);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        google::protobuf::Message* child = repeated
                                               ? r.AddMessage(out, &field)
                                               : r.MutableMessage(out, &field);
        if (IsWellKnown(*field.message_type())) {
          return WellKnown(value, child, path, depth + 1);
        }
        if (!value.has_struct_value()) {
          return Malformed(
              path, absl::StrCat("expected an object, got ", Describe(value)));
        }
        return Message(value.struct_value(), child, path, depth + 1);
      }
    }
    return Malformed(path, "unsupported field type");
  }

  absl::Status WellKnown(const Value& value, google::protobuf::Message* out,
                         const Path& path, int depth) {
    const Descriptor& type = *out->GetDescriptor();
    const std::string& name = type.full_name();
    if (name == "google.protobuf.Value") {
      out->CopyFrom(value);
      return absl::OkStatus();
    }
    if (name == "google.protobuf.Struct") {
      if (!value.has_struct_value()) {
        return Malformed(
            path, absl::StrCat("expected an object, got ", Describe(value)));
      }
      out->CopyFrom(value.struct_value());
      return absl::OkStatus();
    }
    if (name == "google.protobuf.ListValue") {
      if (!value.has_list_value()) {
        return Malformed(
            path, absl::StrCat("expected an array, got ", Describe(value)));
      }
      out->CopyFrom(value.list_value());
      return absl::OkStatus();
    }
    if (name == "google.protobuf.Timestamp" ||
        name == "google.protobuf.Duration" ||
        name == "google.protobuf.FieldMask") {
      if (!value.has_string_value()) {
        return Malformed(
            path, absl::StrCat("expected a string, got ", Describe(value)));
      }
      const std::string& text = value.string_value();
      bool ok;
      if (name == "google.protobuf.Timestamp") {
        ok = google::protobuf::util::TimeUtil::FromString(
            text, static_cast<google::protobuf::Timestamp*>(out));
      } else if (name == "google.protobuf.Duration") {
        ok = google::protobuf::util::TimeUtil::FromString(
            text, static_cast<google::protobuf::Duration*>(out));
      } else {
        ok = google::protobuf::util::FieldMaskUtil::FromJsonString(
            text, static_cast<google::protobuf::FieldMask*>(out));
      }
      if (!ok) {
        return Malformed(
            path, absl::StrCat(Describe(value), " is not a valid ", name));
      }
      return absl::OkStatus();
    }
    if (name == "google.protobuf.Empty") {
      if (!value.has_struct_value() || !value.struct_value().fields().empty()) {
        return Malformed(path,
                         absl::StrCat("expected {}, got ", Describe(value)));
      }
      return absl::OkStatus();
    }
    const FieldDescriptor* wrapped = type.FindFieldByName("value");
    if (wrapped != nullptr && type.field_count() == 1 &&
        absl::EndsWith(name, "Value")) {
      return Single(*wrapped, value, out, false, path, depth);
    }
    // Any and other well-known types: the mapping's own parser.
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(value, &json);
    auto status = google::protobuf::util::JsonStringToMessage(json, out);
    if (!status.ok()) {
      return Malformed(path, status.message().ToString());
    }
    return absl::OkStatus();
  }

  const CodecOptions& options_;
};

// The double the mapping's JSON text of `f` parses back to: it prints floats
// with SimpleFtoa, so this does too.
double FloatAsJsonDouble(float f) {
  return std::strtod(google::protobuf::SimpleFtoa(f).c_str(), nullptr);
}

void SetFloating(double number, Value* out) {
  if (std::isnan(number)) {
    out->set_string_value("NaN");
  } else if (std::isinf(number)) {
    out->set_string_value(number > 0 ? "Infinity" : "-Infinity");
  } else {
    out->set_number_value(number);
  }
}

class Encoder {
 public:
  explicit Encoder(const CodecOptions& options) : options_(options) {}

  absl::Status Message(const google::protobuf::Message& message, Value* out) {
    if (IsWellKnown(*message.GetDescriptor())) {
      return WellKnown(message, out);
    }
    Struct* object = out->mutable_struct_value();
    const Reflection& r = *message.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    r.ListFields(message, &fields);
    auto& members = *object->mutable_fields();
    for (const FieldDescriptor* field : fields) {
      Value& member = members[options_.field_names == FieldNames::kJsonName
                                  ? field->json_name()
                                  : field->name()];
      absl::Status status;
      if (field->is_map()) {
        status = Map(message, *field, &member);
      } else if (field->is_repeated()) {
        ListValue* list = member.mutable_list_value();
        int size = r.FieldSize(message, field);
        for (int i = 0; i < size && status.ok(); ++i) {
          status = Single(message, *field, i, list->add_values());
        }
      } else {
        status = Single(message, *field, -1, &member);
      }
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Map(const google::protobuf::Message& message,
                   const FieldDescriptor& field, Value* out) {
    auto& members = *out->mutable_struct_value()->mutable_fields();
    const Reflection& r = *message.GetReflection();
    const FieldDescriptor& key_field = *field.message_type()->map_key();
    const FieldDescriptor& value_field = *field.message_type()->map_value();
    int size = r.FieldSize(message, &field);
    for (int i = 0; i < size; ++i) {
      const google::protobuf::Message& entry =
          r.GetRepeatedMessage(message, &field, i);
      const Reflection& er = *entry.GetReflection();
      std::string key;
      switch (key_field.cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          key = absl::StrCat(er.GetInt32(entry, &key_field));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          key = absl::StrCat(er.GetInt64(entry, &key_field));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          key = absl::StrCat(er.GetUInt32(entry, &key_field));
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          key = absl::StrCat(er.GetUInt64(entry, &key_field));
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          key = er.GetBool(entry, &key_field) ? "true" : "false";
          break;
        default:
          key = er.GetString(entry, &key_field);
      }
      absl::Status status = Single(entry, value_field, -1, &members[key]);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // One value of `field`: element `index` when repeated, else (-1) the field.
  absl::Status Single(const google::protobuf::Message& message,
                      const FieldDescriptor& field, int index, Value* out) {
    const Reflection& r = *message.GetReflection();
    const bool rep = index >= 0;
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        out->set_number_value(rep ? r.GetRepeatedInt32(message, &field, index)
                                  : r.GetInt32(message, &field));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        out->set_number_value(rep ? r.GetRepeatedUInt32(message, &field, index)
                                  : r.GetUInt32(message, &field));
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        out->set_string_value(
            absl::StrCat(rep ? r.GetRepeatedInt64(message, &field, index)
                             : r.GetInt64(message, &field)));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        out->set_string_value(
            absl::StrCat(rep ? r.GetRepeatedUInt64(message, &field, index)
                             : r.GetUInt64(message, &field)));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        SetFloating(rep ? r.GetRepeatedDouble(message, &field, index)
                        : r.GetDouble(message, &field),
                    out);
        break;
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float f = rep ? r.GetRepeatedFloat(message, &field, index)
                      : r.GetFloat(message, &field);
        SetFloating(std::isfinite(f) ? FloatAsJsonDouble(f) : f, out);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        out->set_bool_value(rep ? r.GetRepeatedBool(message, &field, index)
                                : r.GetBool(message, &field));
        break;
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& text =
            rep ? r.GetRepeatedStringReference(message, &field, index, &scratch)
                : r.GetStringReference(message, &field, &scratch);
        if (field.type() == FieldDescriptor::TYPE_BYTES) {
          absl::Base64Escape(text, out->mutable_string_value());
        } else {
          out->set_string_value(text);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = rep ? r.GetRepeatedEnumValue(message, &field, index)
                         : r.GetEnumValue(message, &field);
        if (field.enum_type()->full_name() == "google.protobuf.NullValue") {
          out->set_null_value(google::protobuf::NULL_VALUE);
          break;
        }
        const EnumValueDescriptor* named =
            field.enum_type()->FindValueByNumber(number);
        if (named != nullptr) {
          out->set_string_value(named->name());
        } else {
          out->set_number_value(number);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Message(rep ? r.GetRepeatedMessage(message, &field, index)
                           : r.GetMessage(message, &field),
                       out);
    }
    return absl::OkStatus();
  }

  absl::Status WellKnown(const google::protobuf::Message& message, Value* out) {
    const Descriptor& type = *message.GetDescriptor();
    const std::string& name = type.full_name();
    if (name == "google.protobuf.Value") {
      out->CopyFrom(message);
      // An unset Value prints as null.
      if (out->kind_case() == Value::KIND_NOT_SET) {
        out->set_null_value(google::protobuf::NULL_VALUE);
      }
      return absl::OkStatus();
    }
    if (name == "google.protobuf.Struct") {
      out->mutable_struct_value()->CopyFrom(message);
      return absl::OkStatus();
    }
    if (name == "google.protobuf.ListValue") {
      out->mutable_list_value()->CopyFrom(message);
      return absl::OkStatus();
    }
    if (name == "google.protobuf.Timestamp") {
      out->set_string_value(google::protobuf::util::TimeUtil::ToString(
          static_cast<const google::protobuf::Timestamp&>(message)));
      return absl::OkStatus();
    }
    if (name == "google.protobuf.Duration") {
      out->set_string_value(google::protobuf::util::TimeUtil::ToString(
          static_cast<const google::protobuf::Duration&>(message)));
      return absl::OkStatus();
    }
    if (name == "google.protobuf.FieldMask") {
      std::string paths;
      if (google::protobuf::util::FieldMaskUtil::ToJsonString(
              static_cast<const google::protobuf::FieldMask&>(message),
              &paths)) {
        out->set_string_value(std::move(paths));
        return absl::OkStatus();
      }
    }
    if (name == "google.protobuf.Empty") {
      out->mutable_struct_value();
      return absl::OkStatus();
    }
    const FieldDescriptor* wrapped = type.FindFieldByName("value");
    if (wrapped != nullptr && type.field_count() == 1 &&
        absl::EndsWith(name, "Value")) {
      return Single(message, *wrapped, -1, out);
    }
    // Any (and a FieldMask the mapping cannot print): the mapping itself.
    return MessageToJsonText(message, out, options_.field_names);
  }

  const CodecOptions& options_;
};

}  // namespace

absl::Status StructToMessage(const Struct& object, Message* message,
                             const CodecOptions& options) {
  if (options.conversion == Conversion::kJsonText) {
    return JsonTextToMessage(object, message, options);
  }
  message->Clear();
  Path root{nullptr, options.path, 0};
  return Decoder(options).Message(object, message, root, 0);
}

absl::Status MessageToStruct(const Message& message, Struct* object,
                             const CodecOptions& options) {
  if (options.conversion == Conversion::kJsonText) {
    return MessageToJsonText(message, object, options.field_names);
  }
  Value value;
  absl::Status status = Encoder(options).Message(message, &value);
  if (!status.ok()) return status;
  if (!value.has_struct_value()) {
    return AsapError(ErrorCode::kInternal,
                     absl::StrCat(message.GetTypeName(),
                                  " does not print as a JSON object"));
  }
  object->Swap(value.mutable_struct_value());
  return absl::OkStatus();
}

}  // namespace asap::skills
