// RecordingAgent: the echo agent with handlers that record what each call's
// HandlerContext carried (metadata, deadline) and that can hold calls, for
// tests of per-call options on both bindings.
//
//   auto agent = asap::testing::RecordingAgent::Start();
//   ... client->Send(request, call) against agent->grpc_target() or
//   agent->http_target() ...
//   EXPECT_EQ(agent->last_metadata("x-tenant"), "acme");
#ifndef ASAP_TESTS_TESTING_RECORDING_AGENT_H_
#define ASAP_TESTS_TESTING_RECORDING_AGENT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/asap_server.h"
#include "server/handler_context.h"

namespace asap::testing {

class RecordingAgent {
 public:
  struct Options {
    // Where to listen: gRPC, and the HTTP binding ("" for none).
    std::string address = "127.0.0.1:0";
    std::string http_address = "127.0.0.1:0";
    // Handlers wait for Release() (at most a deadlock guard of 60 s).
    bool hold = false;
    // Handlers take at least this long (a handler slower than a timeout).
    absl::Duration min_duration = absl::ZeroDuration();
  };

  // Null, with a test failure recorded, when the server does not start.
  static std::unique_ptr<RecordingAgent> Start(Options options);
  static std::unique_ptr<RecordingAgent> Start() { return Start(Options()); }
  // Releases held handlers, then shuts the server down.
  ~RecordingAgent();

  // "127.0.0.1:port" and "http://127.0.0.1:port".
  std::string grpc_target() const { return server_->address(); }
  std::string http_target() const;

  // Lets held handlers (and later ones) go on.
  void Release();
  // Calls that reached a handler ("task.request" or "echo.stream").
  int calls() const;
  // The first value of metadata `key` in the last call, if any.
  std::optional<std::string> last_metadata(const std::string& key) const;
  // Calls whose metadata held `key` with `value`.
  int calls_with_metadata(const std::string& key,
                          const std::string& value) const;
  // The deadline the last call's handler saw.
  absl::Time last_deadline() const;

 private:
  explicit RecordingAgent(Options options) : options_(std::move(options)) {}
  // Records `context`, then holds as the options say.
  void OnCall(const HandlerContext& context);

  const Options options_;
  absl::Notification release_;
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  HandlerContext::Metadata last_metadata_ ABSL_GUARDED_BY(mu_);
  // Every (key, value) of every call's metadata, with its count.
  std::map<std::pair<std::string, std::string>, int> metadata_counts_
      ABSL_GUARDED_BY(mu_);
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::unique_ptr<AsapServer> server_;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_RECORDING_AGENT_H_
