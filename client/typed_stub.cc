#include "client/typed_stub.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/ids.h"

namespace asap {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

bool IsTaskResponse(absl::string_view payload_type) {
  return payload_type == "task.response" || payload_type == "TaskResponse";
}

}  // namespace

void TypedStub::ReportProgress(const v1::Envelope& update,
                               const ProgressCallback& on_progress) {
  if (!on_progress) return;
  const auto& payload = update.payload().fields();
  auto progress = payload.find("progress");
  if (progress == payload.end() || !progress->second.has_struct_value()) {
    return;
  }
  const auto& fields = progress->second.struct_value().fields();
  double percent = 0;
  auto number = fields.find("percent");
  if (number != fields.end() && number->second.has_number_value()) {
    percent = number->second.number_value();
  }
  absl::string_view message;
  auto text = fields.find("message");
  if (text != fields.end() && text->second.has_string_value()) {
    message = text->second.string_value();
  }
  on_progress(percent, message);
}

TypedStub::TypedStub(AsapClient* client, absl::string_view agent_id,
                     TypedStubOptions options)
    : client_(client), options_(std::move(options)) {
  if (options_.recipient.empty()) options_.recipient = std::string(agent_id);
}

absl::StatusOr<v1::Envelope> TypedStub::Request(
    absl::string_view skill_id,
    const google::protobuf::Message& request) const {
  if (options_.sender.empty()) {
    return absl::InvalidArgumentError(
        "TypedStubOptions.sender is empty: set the calling agent's URN");
  }
  v1::Envelope envelope;
  envelope.set_sender(options_.sender);
  envelope.set_recipient(options_.recipient);
  envelope.set_payload_type("task.request");
  auto& payload = *envelope.mutable_payload()->mutable_fields();
  payload["conversation_id"].set_string_value(
      options_.conversation_id.empty() ? NewUlid() : options_.conversation_id);
  payload["skill_id"].set_string_value(std::string(skill_id));
  skills::CodecOptions codec;
  codec.field_names = options_.field_names;
  absl::Status status = skills::MessageToStruct(
      request, payload["input"].mutable_struct_value(), codec);
  if (!status.ok()) return status;
  return envelope;
}

absl::Status TypedStub::ReadResult(const v1::Envelope& answer,
                                   google::protobuf::Message* response) {
  if (!IsTaskResponse(answer.payload_type())) {
    return AsapError(ErrorCode::kInternal,
                     absl::StrCat("expected a task.response, got \"",
                                  answer.payload_type().substr(0, 64), "\""));
  }
  const auto& payload = answer.payload().fields();
  auto status = payload.find("status");
  if (status != payload.end() && status->second.has_string_value() &&
      status->second.string_value() != "completed") {
    return AsapError(
        ErrorCode::kInternal,
        absl::StrCat("the task ended \"",
                     status->second.string_value().substr(0, 64), "\""));
  }
  skills::CodecOptions codec;
  codec.path = "result";
  codec.ignore_unknown_fields = true;
  auto result = payload.find("result");
  if (result == payload.end() || result->second.has_null_value()) {
    return skills::StructToMessage(Struct(), response, codec);
  }
  if (!result->second.has_struct_value()) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "result: expected an object");
  }
  return skills::StructToMessage(result->second.struct_value(), response,
                                 codec);
}

absl::Status TypedStub::Call(absl::string_view skill_id,
                             const google::protobuf::Message& request,
                             google::protobuf::Message* response,
                             const CallOptions& options) const {
  absl::StatusOr<v1::Envelope> envelope = Request(skill_id, request);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<v1::Envelope> answer =
      client_->Send(*std::move(envelope), options);
  if (!answer.ok()) return answer.status();
  return ReadResult(*answer, response);
}

absl::Status TypedStub::CallStreaming(absl::string_view skill_id,
                                      const google::protobuf::Message& request,
                                      google::protobuf::Message* response,
                                      const ProgressCallback& on_progress,
                                      const CallOptions& options) const {
  absl::StatusOr<v1::Envelope> envelope = Request(skill_id, request);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<v1::Envelope> answer =
      client_->SendStream(*std::move(envelope), options,
                          [&on_progress](const v1::Envelope& update) {
                            ReportProgress(update, on_progress);
                          });
  if (!answer.ok()) return answer.status();
  return ReadResult(*answer, response);
}

}  // namespace asap
