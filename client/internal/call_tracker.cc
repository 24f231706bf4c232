#include "client/internal/call_tracker.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"

namespace asap::internal {

CallTracker::Call& CallTracker::Call::operator=(Call&& other) noexcept {
  if (this != &other) {
    End();
    tracker_ = std::move(other.tracker_);
    context_ = std::move(other.context_);
  }
  return *this;
}

CallTracker::Call::~Call() { End(); }

void CallTracker::Call::End() {
  if (tracker_ == nullptr) return;
  // The context goes first: the tracker may hold the last reference to it.
  grpc::ClientContext* context = context_.get();
  context_ = nullptr;
  tracker_->End(context);
  tracker_ = nullptr;
}

bool StreamResetWithoutAnswer(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::INTERNAL &&
         absl::StartsWith(status.error_message(), "Received RST_STREAM");
}

absl::Status CallTracker::Call::Error(const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::CANCELLED &&
      tracker_->closed()) {
    return AsapError(ErrorCode::kCancelled,
                     "the AsapClient was destroyed while the call was in "
                     "flight");
  }
  // gRPC reports a failed call-credentials plugin (the token provider) as
  // UNAVAILABLE; the provider's own error says what went wrong.
  constexpr absl::string_view kPluginFailed =
      "Getting metadata from plugin failed with error: ";
  const std::string text = status.error_message();  // returned by value
  absl::string_view message = text;
  if (absl::ConsumePrefix(&message, kPluginFailed) &&
      absl::StartsWith(message, "asap:")) {
    return FromGrpcStatus(
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(message)),
        nullptr);
  }
  if (StreamResetWithoutAnswer(status)) {
    return AsapError(ErrorCode::kUnavailable,
                     absl::StrCat("the stream was reset before the agent "
                                  "answered (",
                                  text, ")"));
  }
  return FromGrpcStatus(status, context_.get());
}

std::shared_ptr<CallTracker> CallTracker::Create(
    std::shared_ptr<grpc::CallCredentials> credentials) {
  std::shared_ptr<CallTracker> tracker(new CallTracker());
  tracker->credentials_ = std::move(credentials);
  return tracker;
}

absl::StatusOr<CallTracker::Call> CallTracker::Begin() {
  auto context = std::make_shared<grpc::ClientContext>();
  if (credentials_ != nullptr) context->set_credentials(credentials_);
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return AsapError(ErrorCode::kCancelled,
                       "the AsapClient is shutting down");
    }
    calls_.emplace(context.get(), context);
  }
  return Call(shared_from_this(), std::move(context));
}

void CallTracker::End(grpc::ClientContext* context) {
  std::shared_ptr<grpc::ClientContext> last;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(context);
  if (it == calls_.end()) return;
  last = std::move(it->second);
  calls_.erase(it);
}

bool CallTracker::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void CallTracker::Close() {
  std::vector<std::shared_ptr<grpc::ClientContext>> to_cancel;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    to_cancel.reserve(calls_.size());
    for (const auto& [raw, context] : calls_) to_cancel.push_back(context);
  }
  // Outside the lock: gRPC may run a cancelled call's completion callback on
  // this thread, and that callback ends its Call, which takes the lock.
  for (const std::shared_ptr<grpc::ClientContext>& context : to_cancel) {
    context->TryCancel();
  }
}

void CallTracker::WaitUntilIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](absl::flat_hash_map<grpc::ClientContext*,
                              std::shared_ptr<grpc::ClientContext>>* calls) {
        return calls->empty();
      },
      &calls_));
}

}  // namespace asap::internal
