#include "asap/payload.h"

#include <string>

namespace asap {

absl::Status StructToMessage(const google::protobuf::Struct& payload,
                             google::protobuf::Message* message) {
  return FromJson(ToJson(payload), message, ErrorCode::kMalformedEnvelope);
}

google::protobuf::Struct MessageToStruct(
    const google::protobuf::Message& message) {
  google::protobuf::Struct result;
  // The JSON of a message is always a JSON object, so this cannot fail.
  FromJson(ToJson(message), &result, ErrorCode::kInternal).IgnoreError();
  return result;
}

void SetPayload(const google::protobuf::Message& message,
                v1::Envelope* envelope) {
  *envelope->mutable_payload() = MessageToStruct(message);
}

}  // namespace asap
