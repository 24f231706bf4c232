// TypedStub: calls an agent's skills with Protobuf messages over an
// AsapClient, on either binding. The typed clients protoc-gen-asap generates
// (`<Service>::Client`) are thin wrappers over it:
//
// clang-format off
//   asap::TypedStubOptions stub_options;
//   stub_options.sender = "urn:asap:agent:me";
//   research::ResearchAgent::Client research(client.get(), stub_options);
//   absl::StatusOr<research::SearchResult> found = research.Search(request);
//   // With per-call options, progress of a streaming skill:
//   asap::CallOptions call;
//   call.deadline = absl::Now() + absl::Seconds(2);
//   absl::StatusOr<research::Summary> summary = research.Summarize(
//       request, [](double percent, absl::string_view message) { ... }, call);
// clang-format on
//
// A call sends a task.request {conversation_id, skill_id, input} whose input
// is the request message in the Protobuf JSON mapping, and reads the
// task.response's `result` back into the response message. Result fields
// the response message does not know are skipped, so an agent can add
// fields without breaking older clients. Errors: those of AsapClient::Send
// (the agent's own ASAP errors included), asap:protocol/malformed_envelope
// for a result that does not fit the response message, and
// asap:internal/error for an answer that is not a completed task.response.
#ifndef ASAP_CLIENT_TYPED_STUB_H_
#define ASAP_CLIENT_TYPED_STUB_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/skills/struct_codec.h"
#include "asap/v1/envelope.pb.h"
#include "client/asap_client.h"
#include "client/call_options.h"
#include "google/protobuf/message.h"

namespace asap {

struct TypedStubOptions {
  // The calling agent's URN, every envelope's sender (required: a call
  // with none fails with InvalidArgument before anything is sent).
  std::string sender;
  // The recipient; empty = the agent id the .proto gives.
  std::string recipient;
  // The conversation_id of every call; empty = a new ULID per call.
  std::string conversation_id;
  // How inputs spell field names (results are read in either spelling).
  skills::FieldNames field_names = skills::FieldNames::kJsonName;
};

// Progress of a streaming skill: each task.update's progress.percent and
// progress.message; on the calling thread, before the call returns, for the
// blocking calls, and on a client thread, before `done`, for the async ones.
using ProgressCallback =
    std::function<void(double percent, absl::string_view message)>;

class TypedStub {
 public:
  // `client` is not owned and must outlive the stub and its calls.
  TypedStub(AsapClient* client, absl::string_view agent_id,
            TypedStubOptions options);

  // Runs skill `skill_id` with `request` and decodes its result into
  // `response`.
  absl::Status Call(absl::string_view skill_id,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response,
                    const CallOptions& options) const;

  // Call over SendStream: `on_progress` (may be null) sees each progress
  // update the skill reports.
  absl::Status CallStreaming(absl::string_view skill_id,
                             const google::protobuf::Message& request,
                             google::protobuf::Message* response,
                             const ProgressCallback& on_progress,
                             const CallOptions& options) const;

  // Callback form of Call (AsapClient::SendAsync): `done` runs exactly once,
  // on a client thread, with the decoded result.
  template <typename Response>
  void CallAsync(absl::string_view skill_id,
                 const google::protobuf::Message& request,
                 const CallOptions& options,
                 std::function<void(absl::StatusOr<Response>)> done) const {
    absl::StatusOr<v1::Envelope> envelope = Request(skill_id, request);
    if (!envelope.ok()) {
      done(envelope.status());
      return;
    }
    client_->SendAsync(*std::move(envelope), options,
                       Decoding<Response>(std::move(done)));
  }

  // Callback form of CallStreaming (AsapClient::SendStreamAsync):
  // `on_progress` (may be null) sees each progress update, and then `done`
  // runs exactly once with the decoded result, on a client thread.
  template <typename Response>
  void CallStreamingAsync(
      absl::string_view skill_id, const google::protobuf::Message& request,
      ProgressCallback on_progress, const CallOptions& options,
      std::function<void(absl::StatusOr<Response>)> done) const {
    absl::StatusOr<v1::Envelope> envelope = Request(skill_id, request);
    if (!envelope.ok()) {
      done(envelope.status());
      return;
    }
    AsapClient::IntermediateCallback on_update;
    if (on_progress) {
      on_update = [on_progress =
                       std::move(on_progress)](const v1::Envelope& update) {
        ReportProgress(update, on_progress);
      };
    }
    client_->SendStreamAsync(*std::move(envelope), options,
                             std::move(on_update),
                             Decoding<Response>(std::move(done)));
  }

  // The task.request envelope of a call (what Call sends).
  absl::StatusOr<v1::Envelope> Request(
      absl::string_view skill_id,
      const google::protobuf::Message& request) const;

  // Decodes the result of a task.response into `response`.
  static absl::Status ReadResult(const v1::Envelope& answer,
                                 google::protobuf::Message* response);

  AsapClient* client() const { return client_; }
  const TypedStubOptions& options() const { return options_; }

 private:
  // Passes the progress {percent, message} of a task.update, if it has one,
  // to `on_progress`.
  static void ReportProgress(const v1::Envelope& update,
                             const ProgressCallback& on_progress);

  // The AsapClient callback that decodes the answer and gives it to `done`.
  template <typename Response>
  static AsapClient::SendCallback Decoding(
      std::function<void(absl::StatusOr<Response>)> done) {
    return [done = std::move(done)](absl::StatusOr<v1::Envelope> answer) {
      if (!answer.ok()) {
        done(answer.status());
        return;
      }
      Response response;
      absl::Status status = ReadResult(*answer, &response);
      if (!status.ok()) {
        done(status);
        return;
      }
      done(std::move(response));
    };
  }

  AsapClient* const client_;
  TypedStubOptions options_;
};

}  // namespace asap

#endif  // ASAP_CLIENT_TYPED_STUB_H_
