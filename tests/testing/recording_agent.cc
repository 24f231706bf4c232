#include "tests/testing/recording_agent.h"

#include <utility>

#include "gtest/gtest.h"
#include "tests/testing/echo_requests.h"

namespace asap::testing {

std::unique_ptr<RecordingAgent> RecordingAgent::Start(Options options) {
  std::unique_ptr<RecordingAgent> agent(new RecordingAgent(options));
  RecordingAgent* self = agent.get();
  HandlerRegistry handlers;
  EXPECT_TRUE(handlers
                  .Register("task.request",
                            [self](const v1::Envelope& request,
                                   const HandlerContext& context) {
                              self->OnCall(context);
                              return asap::EchoTask(request,
                                                    context.manifest());
                            })
                  .ok());
  EXPECT_TRUE(handlers
                  .RegisterStreaming("echo.stream",
                                     [self](const v1::Envelope& request,
                                            const HandlerContext& context,
                                            const StreamEmit& emit) {
                                       self->OnCall(context);
                                       return asap::EchoStream(request, context,
                                                               emit);
                                     })
                  .ok());
  ServerOptions server_options;
  server_options.address = options.address;
  server_options.http_address = options.http_address;
  server_options.manifest = asap::EchoManifest("");
  absl::StatusOr<std::unique_ptr<AsapServer>> server =
      AsapServer::Start(std::move(server_options), std::move(handlers));
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  agent->server_ = *std::move(server);
  return agent;
}

RecordingAgent::~RecordingAgent() {
  Release();
  server_.reset();
}

std::string RecordingAgent::http_target() const {
  return "http://" + server_->http_address();
}

void RecordingAgent::Release() {
  if (!release_.HasBeenNotified()) release_.Notify();
}

int RecordingAgent::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::optional<std::string> RecordingAgent::last_metadata(
    const std::string& key) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, value] : last_metadata_) {
    if (name == key) return value;
  }
  return std::nullopt;
}

int RecordingAgent::calls_with_metadata(const std::string& key,
                                        const std::string& value) const {
  absl::MutexLock lock(&mu_);
  auto it = metadata_counts_.find({key, value});
  return it == metadata_counts_.end() ? 0 : it->second;
}

absl::Time RecordingAgent::last_deadline() const {
  absl::MutexLock lock(&mu_);
  return last_deadline_;
}

void RecordingAgent::OnCall(const HandlerContext& context) {
  {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_metadata_ = context.client_metadata();
    for (const auto& entry : last_metadata_) ++metadata_counts_[entry];
    last_deadline_ = context.deadline();
  }
  if (options_.hold) release_.WaitForNotificationWithTimeout(absl::Seconds(60));
  if (options_.min_duration > absl::ZeroDuration()) {
    absl::SleepFor(options_.min_duration);
  }
}

}  // namespace asap::testing
