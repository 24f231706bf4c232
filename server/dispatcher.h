// EnvelopeDispatcher: what the server does with one envelope, whichever RPC
// or binding carried it: fill in id and timestamp when absent, validate,
// refuse replays, find the handler, run it (once per sender and id when an
// idempotency store is set), complete and check the response.
#ifndef ASAP_SERVER_DISPATCHER_H_
#define ASAP_SERVER_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "server/call_log.h"
#include "server/handler_context.h"
#include "server/handler_registry.h"
#include "server/nonce_store.h"
#include "server/security/authenticator.h"
#include "server/security/rate_limiter.h"
#include "server/state/claim_renewer.h"
#include "server/state/idempotency_store.h"
#include "server/state/replay_store.h"

namespace asap {

class EnvelopeDispatcher {
 public:
  // Runs a blocking handler: on the calling thread, or handed to a thread
  // pool. It must run `task` exactly once.
  using BlockingExecutor = std::function<void(std::function<void()> task)>;

  // None of the pointers is owned; all must outlive the dispatcher. `nonces`
  // may be null (no replay check). `now` gives the current time.
  EnvelopeDispatcher(const v1::Manifest* manifest,
                     const HandlerRegistry* handlers,
                     ValidationOptions validation, ReplayStore* nonces,
                     std::function<absl::Time()> now);

  // How the dispatcher uses an idempotency store.
  struct IdempotencyOptions {
    // How long a completed response is kept: the timestamp window.
    absl::Duration window = absl::Seconds(330);
    // How long a claim lasts unless renewed. The claims of a running
    // handler are renewed (ClaimRenewer) until it returns; a replica that
    // dies stops renewing, and retries of its envelopes proceed elsewhere
    // after at most this long.
    absl::Duration claim_lease = absl::Seconds(5);
    // How long a call with no deadline waits for a claim held elsewhere.
    absl::Duration default_lease = absl::Seconds(60);
    // How often a call whose id is claimed elsewhere looks again.
    absl::Duration poll_interval = absl::Milliseconds(20);
    // Largest response stored (the server's max_message_bytes); a bigger
    // one is answered but not stored.
    size_t max_response_bytes = 10 * 1024 * 1024;
  };

  // Runs the handler at most once per (sender, id) within the window:
  // before a non-streaming handler runs, the envelope's key
  // (IdempotencyKey) is claimed in `store`. A response already stored is
  // the answer, without running the handler; a claim held by another call
  // is waited for (polling) until that call completes or this call's
  // deadline (without one: the lease), then the answer is
  // asap:transport/unavailable "in progress elsewhere, retry". Successful
  // responses are stored; a handler error releases the claim and is not
  // stored, so a retry runs the handler again. Streaming handlers are not
  // recorded (their intermediates cannot be replayed). Null (the default):
  // no idempotency. Not owned; must outlive the dispatcher.
  void set_idempotency_store(IdempotencyStore* store,
                             IdempotencyOptions options);

  // Envelopes answered from the idempotency store so far (their handler not
  // run again).
  uint64_t idempotency_hits() const {
    return idempotency_hits_.load(std::memory_order_relaxed);
  }

  // Renewals of the claims of handlers that ran past a third of the claim
  // lease (ClaimRenewer).
  uint64_t claim_renewals() const {
    return renewer_ == nullptr ? 0 : renewer_->renewals();
  }
  // Claims that ran out before they could be renewed.
  uint64_t claims_lost() const {
    return renewer_ == nullptr ? 0 : renewer_->lost();
  }

  // Where blocking handlers run when Dispatch is called with
  // `may_block` = false; by default on the calling thread.
  void set_blocking_executor(BlockingExecutor executor) {
    executor_ = std::move(executor);
  }

  // Where every envelope's caller is counted (RateLimiter::Acquire with
  // the context's identity, or its peer's address); null counts nothing.
  // Not owned.
  void set_rate_limiter(RateLimiter* limiter) { rate_limiter_ = limiter; }
  // With authentication on: an envelope whose context (from a binding, not
  // in-process) has no identity is refused, asap:auth/unauthenticated.
  void set_require_identity(bool require) { require_identity_ = require; }
  // Logs one line per call of Dispatch and DispatchStream when its `done`
  // runs (server/call_log.h). Level kOff (the default) leaves `done` as it
  // is. Set before the first call.
  void set_call_log(CallLogOptions options) {
    call_log_ = options.level == CallLogLevel::kOff
                    ? nullptr
                    : std::make_unique<CallLog>(std::move(options));
  }

  // The caller's part of admitting `request`: the identity requirement, the
  // rate limit (one token taken) and the sender check. Dispatch does it
  // unless the binding did it already (HandlerContext::caller_checked), for
  // example before holding resources for a stream. Thread-safe.
  absl::Status CheckCaller(const v1::Envelope& request,
                           const HandlerContext& context) const;

  // Dispatches `*request` and calls `done` exactly once with the response
  // envelope or the ASAP error: asap:transport/rate_limited past the
  // caller's rate limit, asap:auth/sender_mismatch when the context has an
  // identity the envelope's sender is not, the validation error,
  // asap:transport/handler_not_found when no handler takes its
  // payload_type, the handler's own error, or asap:internal/error when the
  // handler throws or its response is not a valid envelope. `request` gets
  // its id and timestamp when absent; it and `context` must stay valid until
  // `done` runs. With `may_block` a blocking handler runs on this thread,
  // otherwise on the blocking executor. A streaming handler runs with an
  // emit that drops its intermediates, and its response is not marked (see
  // DispatchStream). Thread-safe.
  void Dispatch(v1::Envelope* request, const HandlerContext* context,
                bool may_block,
                std::function<void(absl::StatusOr<v1::Envelope>)> done) const;

  // Dispatches `*request` as a streaming call. Admission and errors as
  // Dispatch. Each intermediate envelope of a streaming handler is completed
  // and validated like a response, marked `payload.final = false` and passed
  // to `emit`, one at a time, never after `done` has been called; `emit`'s
  // answer (false: stop) goes back to the handler. An invalid intermediate
  // ends the call: `done` gets asap:internal/error once the handler returns,
  // and its further emits return false. The final envelope is marked
  // `payload.final = true`; a blocking or async handler gives only that one.
  // `emit` runs on the handler's thread with the call's lock held: it must
  // not block or call back into the dispatcher. Thread-safe.
  void DispatchStream(
      v1::Envelope* request, const HandlerContext* context, bool may_block,
      StreamEmit emit,
      std::function<void(absl::StatusOr<v1::Envelope>)> done) const;

  // Dispatches on this thread and waits for the result (an async handler
  // may complete on another thread). For in-process callers and tests.
  absl::StatusOr<v1::Envelope> Dispatch(v1::Envelope request) const;

 private:
  // Validation, defaults and the replay check; the handler to run.
  absl::StatusOr<const HandlerEntry*> Admit(v1::Envelope* request,
                                            const HandlerContext& context,
                                            absl::Time now) const;
  // The replay check of `request`'s extensions.nonce, if it has one;
  // `owner` as ReplayStore::CheckAndRemember.
  absl::Status CheckNonce(const v1::Envelope& request, const std::string& owner,
                          absl::Time now) const;
  // Completes `response` and checks it; `what` ("returned an invalid
  // response") describes a failure in the error.
  absl::StatusOr<v1::Envelope> Complete(
      const v1::Envelope& request, absl::Time now,
      absl::StatusOr<v1::Envelope> response,
      absl::string_view what = "returned an invalid response") const;
  // Runs an admitted request's handler, whatever its form, through the
  // idempotency store when there is one.
  void Run(const HandlerEntry* handler, v1::Envelope* request,
           const HandlerContext* context, absl::Time now, bool may_block,
           std::function<void(absl::StatusOr<v1::Envelope>)> done) const;
  // Claims the request's key (waiting while it is busy, when `may_wait`)
  // and answers from the store or runs the handler.
  void RunOnce(const HandlerEntry* handler, v1::Envelope* request,
               const HandlerContext* context, absl::Time now, bool may_block,
               std::function<void(absl::StatusOr<v1::Envelope>)> done) const;
  // Runs an admitted request's handler, whatever its form.
  void RunHandler(const HandlerEntry* handler, v1::Envelope* request,
                  const HandlerContext* context, absl::Time now, bool may_block,
                  std::function<void(absl::StatusOr<v1::Envelope>)> done) const;
  // Runs a streaming handler with `emit` (null: intermediates are dropped).
  void RunStreaming(
      const HandlerEntry* handler, v1::Envelope* request,
      const HandlerContext* context, absl::Time now, bool may_block,
      StreamEmit emit, bool mark_final,
      std::function<void(absl::StatusOr<v1::Envelope>)> done) const;

  const v1::Manifest* manifest_;
  const HandlerRegistry* handlers_;
  const ValidationOptions validation_;
  ValidationOptions response_validation_;
  ValidationOptions completed_response_validation_;
  ReplayStore* nonces_;
  IdempotencyStore* idempotency_ = nullptr;
  std::unique_ptr<ClaimRenewer> renewer_;
  mutable std::atomic<uint64_t> idempotency_hits_{0};
  IdempotencyOptions idempotency_options_;
  std::function<absl::Time()> now_;
  BlockingExecutor executor_;
  RateLimiter* rate_limiter_ = nullptr;
  bool require_identity_ = false;
  std::unique_ptr<const CallLog> call_log_;
};

}  // namespace asap

#endif  // ASAP_SERVER_DISPATCHER_H_
