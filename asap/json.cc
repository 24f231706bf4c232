#include "asap/json.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace asap {

std::string ToJson(const google::protobuf::Message& message,
                   const JsonPrintOptions& options) {
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.add_whitespace = options.pretty;
  std::string out;
  // Printing a valid message cannot fail (there are no Any fields to resolve).
  (void)google::protobuf::util::MessageToJsonString(message, &out, print);
  if (options.pretty && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

absl::Status FromJson(absl::string_view json,
                      google::protobuf::Message* message, ErrorCode code) {
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, parse);
  if (!status.ok()) {
    return AsapError(code,
                     absl::StrCat("invalid ", message->GetTypeName(),
                                  " JSON: ", status.message().ToString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Envelope> EnvelopeFromJson(absl::string_view json) {
  v1::Envelope envelope;
  absl::Status status =
      FromJson(json, &envelope, ErrorCode::kMalformedEnvelope);
  if (!status.ok()) return status;
  return envelope;
}

absl::StatusOr<v1::Manifest> ManifestFromJson(absl::string_view json) {
  v1::Manifest manifest;
  absl::Status status =
      FromJson(json, &manifest, ErrorCode::kMalformedManifest);
  if (!status.ok()) return status;
  return manifest;
}

}  // namespace asap
