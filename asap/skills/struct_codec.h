// Converts between google.protobuf.Struct (a task's `input` and `result`)
// and typed messages, following the Protobuf JSON mapping.
//
//   SumRequest request;
//   absl::Status status = asap::skills::StructToMessage(input, &request);
//   // asap:protocol/malformed_envelope: input.values[1]: ... on bad input
//   google::protobuf::Struct result;
//   asap::skills::MessageToStruct(response, &result);
//
// Two implementations give the same results:
// - kDirect (the default) walks the Struct and the message together through
//   descriptors and reflection: no JSON text. 5-15x faster on the
//   messages of //benchmarks:typed_skill_benchmark.
// - kJsonText prints JSON and parses it with protobuf's JSON mapping
//   (google::protobuf::util); the reference the tests hold kDirect to.
//
// Decoding follows the mapping's parser: a field may be spelled as its
// json_name or its .proto name; null means "not set" (except in a Value);
// numbers may come as strings; 64-bit integers as numbers or strings; enums
// as names or numbers. Unknown fields, a wrong type, an integer out of range
// or with a fraction, an unknown enum name are errors naming the field.
// Any values go through the JSON mapping in both modes (they need a type
// resolver).
#ifndef ASAP_SKILLS_STRUCT_CODEC_H_
#define ASAP_SKILLS_STRUCT_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asap/skills/json_schema.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"

namespace asap::skills {

enum class Conversion {
  kDirect,
  kJsonText,
};

struct CodecOptions {
  Conversion conversion = Conversion::kDirect;
  // How MessageToStruct spells field names (both are read).
  FieldNames field_names = FieldNames::kJsonName;
  // Where the Struct sits, for error messages ("input" names the field
  // `input.values[1]`). Must outlive the options (a literal, usually).
  absl::string_view path = "input";
  // Deepest nesting of messages, lists and objects read; deeper is
  // asap:protocol/malformed_envelope. The server bounds payloads at 32.
  int max_depth = 64;
  // Skip object keys that name no field instead of failing. Off for what a
  // skill receives (a typo in an input is an error); on where a client
  // reads a result, so an agent may add result fields without breaking
  // older clients.
  bool ignore_unknown_fields = false;
};

// Replaces `message` with the message `object` describes. Returns
// asap:protocol/malformed_envelope naming the offending field on bad input.
absl::Status StructToMessage(const google::protobuf::Struct& object,
                             google::protobuf::Message* message,
                             const CodecOptions& options = {});

// Replaces `object` with the JSON form of `message`. Fields at their default
// value are left out, as the mapping prints them. Fails only for an Any
// whose type is unknown (asap:internal/error).
absl::Status MessageToStruct(const google::protobuf::Message& message,
                             google::protobuf::Struct* object,
                             const CodecOptions& options = {});

}  // namespace asap::skills

#endif  // ASAP_SKILLS_STRUCT_CODEC_H_
