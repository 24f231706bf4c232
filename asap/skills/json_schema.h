// JSON Schemas (draft 2020-12) of Protobuf messages, as the Protobuf JSON
// mapping writes them: what a skill's `input_schema` and `output_schema` in
// the Manifest say.
//
//   absl::StatusOr<std::string> schema =
//       asap::skills::JsonSchemaFor(*SumRequest::descriptor());
//   absl::StatusOr<google::protobuf::Struct> as_struct =
//       asap::skills::JsonSchemaStructFor(*SumRequest::descriptor());
//
// Conventions (the schema describes the canonical JSON a typed skill writes;
// its parser, the Protobuf JSON mapping, accepts more):
// - Field names are the lowerCamelCase `json_name` by default
//   (SchemaOptions::field_names = kOriginal for the .proto names). Parsers
//   accept both spellings; the schema lists only the chosen one, with
//   `additionalProperties: false` on every message.
// - No proto3 field is `required`: an absent field is its default value.
//   Only proto2 `required` fields are listed in `required`.
// - 64-bit integers are a decimal string or an integer ({"type": ["string",
//   "integer"]}); the mapping writes strings. 32-bit integers are integers
//   with their bounds. float/double are numbers or "NaN", "Infinity",
//   "-Infinity". bytes are base64 strings. Enums are strings naming a value.
// - repeated fields are arrays, maps are objects with `additionalProperties`
//   (integer and bool keys as `propertyNames` patterns).
// - Each message type is one entry of `$defs`, keyed by its full name, used
//   through `$ref` (the root message is the schema itself: "#"), so
//   recursive messages are finite.
// - A oneof allows at most one of its fields (a `oneOf` of "has exactly this
//   one" and "has none").
// - Well-known types as the mapping writes them: Timestamp a `date-time`
//   string, Duration a string like "1.5s", FieldMask a string, Struct an
//   object, ListValue an array, Value anything, NullValue null, wrappers
//   their scalar or null, Any an object with "@type", Empty an empty object.
#ifndef ASAP_SKILLS_JSON_SCHEMA_H_
#define ASAP_SKILLS_JSON_SCHEMA_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"

namespace asap::skills {

// How fields are spelled in JSON.
enum class FieldNames {
  // The field's json_name: lowerCamelCase unless the .proto sets json_name.
  // What the Protobuf JSON mapping prints by default.
  kJsonName,
  // The name in the .proto (snake_case by convention), as ASAP's own
  // payloads are spelled.
  kOriginal,
};

struct SchemaOptions {
  FieldNames field_names = FieldNames::kJsonName;
  // Most message types in `$defs`; a larger schema is ResourceExhausted.
  int max_definitions = 512;
  // Longest chain of distinct nested message types from the root; deeper is
  // ResourceExhausted. (Recursion does not count: a type seen before is a
  // `$ref`.)
  int max_depth = 64;
  // Add "$schema": "https://json-schema.org/draft/2020-12/schema".
  bool include_schema_uri = true;
};

// The schema of `descriptor` as JSON text: keys sorted, two-space indent,
// ending in a newline, so it is stable enough for golden files. Returns
// ResourceExhausted past a bound of `options`.
absl::StatusOr<std::string> JsonSchemaFor(
    const google::protobuf::Descriptor& descriptor,
    const SchemaOptions& options = {});

// The same schema as a Struct, the form Skill.input_schema and
// Skill.output_schema hold.
absl::StatusOr<google::protobuf::Struct> JsonSchemaStructFor(
    const google::protobuf::Descriptor& descriptor,
    const SchemaOptions& options = {});

// `value` as JSON text with sorted keys and a two-space indent (how
// JsonSchemaFor prints). Integral numbers print without a fraction.
std::string StableJson(const google::protobuf::Value& value);

}  // namespace asap::skills

#endif  // ASAP_SKILLS_JSON_SCHEMA_H_
