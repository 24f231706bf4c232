// The calls of one AsapClient, so that its destructor can cancel them and wait
// for them: no call, and no callback of SendAsync, may touch the client after
// it is gone.
#ifndef ASAP_CLIENT_INTERNAL_CALL_TRACKER_H_
#define ASAP_CLIENT_INTERNAL_CALL_TRACKER_H_

#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/status.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace asap::internal {

// Whether `status` is a stream the peer reset before answering: gRPC's
// INTERNAL "Received RST_STREAM with error code N". A proxy does that when
// the replica behind it dies in the middle of a call whose headers it has
// already passed on (nginx cannot forge the trailers it never got), so the
// agent may never have read the rest, or may have run it: like a reset
// connection, the envelope is worth sending again, and an agent that
// remembers ids runs it once.
bool StreamResetWithoutAnswer(const grpc::Status& status);

class CallTracker : public std::enable_shared_from_this<CallTracker> {
 public:
  // One call of the client (a method running, or a SendAsync whose callback
  // has not returned yet), with the gRPC context its RPC must use. Movable;
  // the registration ends when it is destroyed, so it must be the last thing
  // a call releases: once it is gone the client may be destroyed.
  class Call {
   public:
    Call(Call&& other) noexcept = default;
    Call& operator=(Call&& other) noexcept;
    ~Call();

    grpc::ClientContext* context() const { return context_.get(); }

    // The error for a failed RPC: FromGrpcStatus, except that a call
    // cancelled because the client is being destroyed says so, and a stream
    // reset without an answer (StreamResetWithoutAnswer) is
    // asap:transport/unavailable.
    absl::Status Error(const grpc::Status& status) const;

   private:
    friend class CallTracker;
    Call(std::shared_ptr<CallTracker> tracker,
         std::shared_ptr<grpc::ClientContext> context)
        : tracker_(std::move(tracker)), context_(std::move(context)) {}
    void End();

    // Held by each call, so ending a call after the client is gone is safe.
    std::shared_ptr<CallTracker> tracker_;
    // Shared with the tracker, which may cancel it while the call ends.
    std::shared_ptr<grpc::ClientContext> context_;
  };

  // `credentials` (may be null) go on every call's context: the client's
  // bearer token, as gRPC call credentials.
  static std::shared_ptr<CallTracker> Create(
      std::shared_ptr<grpc::CallCredentials> credentials = nullptr);

  // Registers a new call. asap:transport/cancelled once Close() was called.
  absl::StatusOr<Call> Begin();

  // Refuses new calls and cancels (ClientContext::TryCancel) every call
  // registered. Does not wait: see WaitUntilIdle(). Idempotent.
  void Close();

  // Blocks until every Call has been destroyed.
  void WaitUntilIdle();

 private:
  CallTracker() = default;
  void End(grpc::ClientContext* context);
  bool closed() const;

  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<grpc::ClientContext*,
                      std::shared_ptr<grpc::ClientContext>>
      calls_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::CallCredentials> credentials_;
};

}  // namespace asap::internal

#endif  // ASAP_CLIENT_INTERNAL_CALL_TRACKER_H_
