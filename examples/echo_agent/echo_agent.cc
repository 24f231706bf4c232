#include "examples/echo_agent/echo_agent.h"

#include "asap/ids.h"
#include "asap/v1/payloads.pb.h"

namespace asap::examples {

absl::StatusOr<v1::Envelope> EchoTask(const v1::Envelope& request,
                                      const v1::Manifest& manifest) {
  // Validation already checked that the payload is a TaskRequest, so `input`
  // is an object.
  const google::protobuf::Value& input = request.payload().fields().at("input");
  v1::Envelope response;
  response.set_payload_type(request.payload_type() == "TaskRequest"
                                ? "TaskResponse"
                                : "task.response");
  auto& fields = *response.mutable_payload()->mutable_fields();
  fields["task_id"].set_string_value(NewUlid());
  fields["status"].set_string_value("completed");
  *fields["result"].mutable_struct_value() = input.struct_value();
  return response;
}

HandlerRegistry EchoHandlers() {
  HandlerRegistry handlers;
  // Registering a fresh registry cannot fail.
  // Echoing only computes: it runs on the thread that received the call.
  handlers.RegisterNonBlocking("task.request", EchoTask).IgnoreError();
  handlers.RegisterNonBlocking("TaskRequest", EchoTask).IgnoreError();
  return handlers;
}

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

v1::Manifest EchoManifest(const std::string& endpoint) {
  v1::Manifest manifest;
  manifest.set_id("urn:asap:agent:echo");
  manifest.set_name("Echo Agent");
  manifest.set_version("1.0.0");
  manifest.set_description("Answers every task with its own input.");
  v1::Capability* capabilities = manifest.mutable_capabilities();
  capabilities->set_asap_version("0.1");
  v1::Skill* skill = capabilities->add_skills();
  skill->set_id("echo");
  skill->set_description("Returns the task input as the result");
  manifest.mutable_endpoints()->set_asap(endpoint);
  return manifest;
}

}  // namespace asap::examples
