// Typed access to Envelope.payload (a google.protobuf.Struct).
//
//   absl::StatusOr<asap::v1::TaskRequest> task =
//       asap::PayloadAs<asap::v1::TaskRequest>(envelope);
//   asap::v1::TaskResponse response = ...;
//   absl::Status s = asap::SetPayload(response, &reply);
//
// The conversion goes through JSON, so it costs a few microseconds per payload;
// handlers that only look at one field can read envelope.payload() directly.
#ifndef ASAP_PAYLOAD_H_
#define ASAP_PAYLOAD_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "asap/v1/envelope.pb.h"

namespace asap {

// Converts a payload Struct into `message`. Returns
// asap:protocol/malformed_envelope when the payload has unknown fields or
// fields of the wrong type for `message`.
absl::Status StructToMessage(const google::protobuf::Struct& payload,
                             google::protobuf::Message* message);

// Converts `message` into a Struct (its ASAP JSON form).
google::protobuf::Struct MessageToStruct(
    const google::protobuf::Message& message);

// The payload of `envelope` as the typed message T (for example
// v1::TaskRequest).
template <typename T>
absl::StatusOr<T> PayloadAs(const v1::Envelope& envelope) {
  T message;
  absl::Status status = StructToMessage(envelope.payload(), &message);
  if (!status.ok()) return status;
  return message;
}

// Sets the payload of `envelope` to the ASAP JSON form of `message`.
void SetPayload(const google::protobuf::Message& message,
                v1::Envelope* envelope);

}  // namespace asap

#endif  // ASAP_PAYLOAD_H_
