#include "examples/common/echo_task.h"

#include <string>

namespace asap::examples {
namespace {

v1::Envelope Envelope(absl::string_view payload_type,
                      const EchoTaskOptions& options) {
  v1::Envelope envelope;
  envelope.set_sender(options.sender);
  envelope.set_recipient(options.recipient);
  envelope.set_payload_type(std::string(payload_type));
  return envelope;
}

}  // namespace

v1::Envelope EchoTaskRequest(absl::string_view text,
                             const EchoTaskOptions& options) {
  v1::Envelope request = Envelope("task.request", options);
  auto& payload = *request.mutable_payload()->mutable_fields();
  payload["conversation_id"].set_string_value(options.conversation_id);
  payload["skill_id"].set_string_value("echo");
  (*payload["input"].mutable_struct_value()->mutable_fields())["text"]
      .set_string_value(std::string(text));
  return request;
}

v1::Envelope EchoStreamRequest(absl::string_view text, int steps,
                               const EchoTaskOptions& options) {
  v1::Envelope request = Envelope("echo.stream", options);
  auto& payload = *request.mutable_payload()->mutable_fields();
  payload["text"].set_string_value(std::string(text));
  payload["steps"].set_number_value(steps);
  return request;
}

std::string EchoResultText(const v1::Envelope& response) {
  const auto& payload = response.payload().fields();
  auto result = payload.find("result");
  if (result == payload.end()) return "";
  const auto& fields = result->second.struct_value().fields();
  auto text = fields.find("text");
  return text == fields.end() ? "" : text->second.string_value();
}

}  // namespace asap::examples
