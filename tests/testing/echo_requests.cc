#include "tests/testing/echo_requests.h"

namespace asap::testing {

v1::Envelope EchoRequest(const std::string& text, const std::string& sender) {
  v1::Envelope envelope;
  envelope.set_sender(sender);
  envelope.set_recipient("urn:asap:agent:echo");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("conv-1");
  fields["skill_id"].set_string_value("echo");
  (*fields["input"].mutable_struct_value()->mutable_fields())["text"]
      .set_string_value(text);
  return envelope;
}

std::string EchoedText(const v1::Envelope& response) {
  const auto& payload = response.payload().fields();
  auto result = payload.find("result");
  if (result == payload.end()) return "";
  const auto& fields = result->second.struct_value().fields();
  auto text = fields.find("text");
  return text == fields.end() ? "" : text->second.string_value();
}

}  // namespace asap::testing
