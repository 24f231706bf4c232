#include "server/echo_skill.h"

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "asap/v1/payloads.pb.h"

namespace asap {

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

absl::StatusOr<v1::Envelope> EchoStream(const v1::Envelope& request,
                                        const HandlerContext& context,
                                        const StreamEmit& emit) {
  const auto& payload = request.payload().fields();
  auto text = payload.find("text");
  auto steps = payload.find("steps");
  if (text == payload.end() || !text->second.has_string_value() ||
      (steps != payload.end() && !steps->second.has_number_value())) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "echo.stream takes {\"text\": string, \"steps\": number}");
  }
  double count = steps == payload.end() ? 0 : steps->second.number_value();
  if (!(count >= 0 && count <= kMaxEchoStreamSteps)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     absl::StrCat("steps must be 0 to ", kMaxEchoStreamSteps));
  }
  std::string task_id = NewUlid();
  int total = static_cast<int>(count);
  for (int step = 1; step <= total; ++step) {
    v1::Envelope update;
    update.set_payload_type("task.update");
    auto& fields = *update.mutable_payload()->mutable_fields();
    fields["task_id"].set_string_value(task_id);
    fields["update_type"].set_string_value("progress");
    fields["status"].set_string_value("working");
    auto& progress =
        *fields["progress"].mutable_struct_value()->mutable_fields();
    progress["percent"].set_number_value(100.0 * step / total);
    progress["message"].set_string_value(
        absl::StrCat("step ", step, " of ", total));
    if (!emit(std::move(update))) {
      return AsapError(ErrorCode::kCancelled, "the stream was closed");
    }
  }
  v1::Envelope response;
  response.set_payload_type("task.response");
  auto& fields = *response.mutable_payload()->mutable_fields();
  fields["task_id"].set_string_value(task_id);
  fields["status"].set_string_value("completed");
  (*fields["result"].mutable_struct_value()->mutable_fields())["text"] =
      text->second;
  return response;
}

HandlerRegistry EchoHandlers() {
  HandlerRegistry handlers;
  // Registering a fresh registry cannot fail.
  // Echoing only computes: it runs on the thread that received the call.
  handlers.RegisterNonBlocking("task.request", EchoTask).IgnoreError();
  handlers.RegisterNonBlocking("TaskRequest", EchoTask).IgnoreError();
  handlers.RegisterStreaming("echo.stream", EchoStream).IgnoreError();
  return handlers;
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

}  // namespace asap
