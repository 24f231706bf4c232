#include "server/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asap/errors.h"

namespace asap {
namespace {

absl::Status HandlerThrew(const v1::Envelope& request, absl::string_view what) {
  return AsapError(
      ErrorCode::kInternal,
      absl::StrCat("the handler for '", request.payload_type().substr(0, 64),
                   "' failed: ", what.substr(0, 200)));
}

// Sets the streaming marker `payload.final`.
void MarkFinal(v1::Envelope* envelope, bool final) {
  (*envelope->mutable_payload()->mutable_fields())["final"].set_bool_value(
      final);
}

}  // namespace

EnvelopeDispatcher::EnvelopeDispatcher(const v1::Manifest* manifest,
                                       const HandlerRegistry* handlers,
                                       ValidationOptions validation,
                                       ReplayStore* nonces,
                                       std::function<absl::Time()> now)
    : manifest_(manifest),
      handlers_(handlers),
      validation_(validation),
      response_validation_(validation),
      nonces_(nonces),
      now_(std::move(now)),
      executor_([](std::function<void()> task) { task(); }) {
  // A response is made now; its age says nothing about a replay.
  response_validation_.check_timestamp_window = false;
  // A timestamp the server wrote itself needs no parsing.
  completed_response_validation_ = response_validation_;
  completed_response_validation_.check_timestamp_format = false;
}

void EnvelopeDispatcher::set_idempotency_store(IdempotencyStore* store,
                                               IdempotencyOptions options) {
  renewer_.reset();
  idempotency_ = store;
  idempotency_options_ = options;
  if (store != nullptr) {
    renewer_ = std::make_unique<ClaimRenewer>(
        store, std::min(options.claim_lease, options.window), now_);
  }
}

absl::Status EnvelopeDispatcher::CheckCaller(
    const v1::Envelope& request, const HandlerContext& context) const {
  // With authentication on, an envelope from the network without an
  // identity is refused, whatever path brought it here.
  if (require_identity_ && context.identity().empty() &&
      context.binding() != "in-process") {
    return AsapError(ErrorCode::kUnauthenticated,
                     "the call carries no authenticated identity");
  }
  // Every envelope counts against its caller's rate limit, the envelopes of
  // batches and streams included: the authenticated agent, or else the
  // client's address.
  if (rate_limiter_ != nullptr && rate_limiter_->enabled()) {
    if (absl::Status status = rate_limiter_->Acquire(
            context.identity().empty() ? PeerAddress(context.peer())
                                       : context.identity());
        !status.ok()) {
      return status;
    }
  }
  // An authenticated call speaks only for its own agent, envelope by
  // envelope: one call cannot carry envelopes of another sender.
  return CheckSender(request, context.identity());
}

absl::StatusOr<const HandlerEntry*> EnvelopeDispatcher::Admit(
    v1::Envelope* request, const HandlerContext& context,
    absl::Time now) const {
  if (!context.caller_checked()) {
    if (absl::Status status = CheckCaller(*request, context); !status.ok()) {
      return status;
    }
  }
  // ASAP v1.0 makes id and timestamp optional and generated: a sender that
  // leaves them out gets fresh ones, before anything reads them.
  FillEnvelopeDefaults(request, now);
  if (absl::Status status = ValidateEnvelope(*request, now, validation_);
      !status.ok()) {
    return status;
  }
  const HandlerEntry* handler = handlers_->Find(request->payload_type());
  if (handler == nullptr) {
    return AsapError(
        ErrorCode::kHandlerNotFound,
        absl::StrCat("no handler for payload_type '",
                     request->payload_type().substr(0, 64),
                     "' (this agent handles: ",
                     absl::StrJoin(handlers_->payload_types(), ", "), ")"));
  }
  // With an idempotency store, the nonce is checked once the envelope's id
  // is known to be new (RunOnce): a retry of an answered envelope, nonce and
  // all, gets its answer instead of a replay refusal.
  if (idempotency_ == nullptr || handler->streaming) {
    if (absl::Status status = CheckNonce(*request, std::string(), now);
        !status.ok()) {
      return status;
    }
  }
  return handler;
}

absl::Status EnvelopeDispatcher::CheckNonce(const v1::Envelope& request,
                                            const std::string& owner,
                                            absl::Time now) const {
  if (nonces_ == nullptr || !request.has_extensions()) {
    return absl::OkStatus();
  }
  auto it = request.extensions().fields().find("nonce");
  if (it == request.extensions().fields().end()) return absl::OkStatus();
  return nonces_->CheckAndRemember(it->second.string_value(), owner, now);
}

absl::StatusOr<v1::Envelope> EnvelopeDispatcher::Complete(
    const v1::Envelope& request, absl::Time now,
    absl::StatusOr<v1::Envelope> response, absl::string_view what) const {
  if (!response.ok()) return response.status();
  bool handler_set_timestamp = !response->timestamp().empty();
  CompleteResponse(request, manifest_->id(), now, &*response);
  if (absl::Status status = ValidateEnvelope(
          *response, now,
          handler_set_timestamp ? response_validation_
                                : completed_response_validation_);
      !status.ok()) {
    return AsapError(
        ErrorCode::kInternal,
        absl::StrCat("the handler for '", request.payload_type().substr(0, 64),
                     "' ", what, ": ", status.message()));
  }
  return response;
}

void EnvelopeDispatcher::Dispatch(
    v1::Envelope* request, const HandlerContext* context, bool may_block,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  // The call's log line, when its outcome is known; latency from here.
  if (call_log_ != nullptr) {
    done = call_log_->Wrap(request, context->binding(), std::move(done));
  }
  absl::Time now = now_();
  absl::StatusOr<const HandlerEntry*> handler = Admit(request, *context, now);
  if (!handler.ok()) {
    done(handler.status());
    return;
  }
  Run(*handler, request, context, now, may_block, std::move(done));
}

void EnvelopeDispatcher::Run(
    const HandlerEntry* handler, v1::Envelope* request,
    const HandlerContext* context, absl::Time now, bool may_block,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  if (idempotency_ == nullptr || handler->streaming) {
    RunHandler(handler, request, context, now, may_block, std::move(done));
    return;
  }
  RunOnce(handler, request, context, now, may_block, std::move(done));
}

void EnvelopeDispatcher::RunOnce(
    const HandlerEntry* handler, v1::Envelope* request,
    const HandlerContext* context, absl::Time now, bool may_block,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  using Claim = IdempotencyStore::Claim;
  using ClaimState = IdempotencyStore::ClaimState;
  const IdempotencyOptions& options = idempotency_options_;
  std::string key = IdempotencyKey(request->sender(), request->id());
  // The claim is short and renewed while the handler runs: a replica that
  // dies holds its envelopes' ids for at most one lease.
  absl::Duration lease = std::min(options.claim_lease, options.window);
  absl::Time deadline = context->deadline();
  absl::Time give_up = deadline == absl::InfiniteFuture()
                           ? now + options.default_lease
                           : deadline;
  // Claims the key; with `may_wait`, polls while another call holds it.
  auto claim = [this, key, lease, give_up, context,
                request](bool may_wait) -> absl::StatusOr<Claim> {
    while (true) {
      absl::StatusOr<Claim> result = idempotency_->TryClaim(key, lease, now_());
      if (!result.ok() || result->state != ClaimState::kBusy || !may_wait) {
        return result;
      }
      if (now_() + idempotency_options_.poll_interval >= give_up ||
          context->IsCancelled()) {
        return AsapError(ErrorCode::kUnavailable,
                         absl::StrCat("envelope '", request->id().substr(0, 64),
                                      "' is in progress elsewhere, retry"));
      }
      absl::SleepFor(idempotency_options_.poll_interval);
    }
  };
  // Answers from the store, or runs the handler and records its response.
  auto proceed = [this, handler, request, context, now, key](
                     absl::StatusOr<Claim> result, bool may_block,
                     std::function<void(absl::StatusOr<v1::Envelope>)> done) {
    if (!result.ok()) {
      done(result.status());
      return;
    }
    if (result->state == ClaimState::kDone) {
      idempotency_hits_.fetch_add(1, std::memory_order_relaxed);
      v1::Envelope response;
      if (!response.ParseFromString(result->response)) {
        done(AsapError(
            ErrorCode::kInternal,
            absl::StrCat("the stored response to envelope '",
                         request->id().substr(0, 64), "' cannot be parsed")));
        return;
      }
      done(std::move(response));
      return;
    }
    // A new envelope: now its nonce must be new too, or remembered for
    // this very envelope by an attempt that left no answer (its replica
    // died, or its handler failed).
    if (absl::Status nonce = CheckNonce(*request, key, now); !nonce.ok()) {
      (void)idempotency_->Abandon(key, result->token);
      done(nonce);
      return;
    }
    uint64_t held = renewer_->Hold(key, result->token);
    RunHandler(
        handler, request, context, now, may_block,
        [this, key, held, token = std::move(result->token),
         done = std::move(done)](absl::StatusOr<v1::Envelope> response) {
          renewer_->Release(held);
          // A store that fails here costs only the record: the response
          // still goes back, and a retry runs the handler again.
          if (response.ok()) {
            std::string bytes = response->SerializeAsString();
            if (bytes.size() <= idempotency_options_.max_response_bytes) {
              (void)idempotency_->Complete(key, token, bytes, now_());
            } else {
              (void)idempotency_->Abandon(key, token);
            }
          } else {
            (void)idempotency_->Abandon(key, token);
          }
          done(std::move(response));
        });
  };
  absl::StatusOr<Claim> first = claim(/*may_wait=*/may_block);
  if (!may_block && first.ok() && first->state == ClaimState::kBusy) {
    // Waiting blocks: on the blocking executor, not the binding's thread.
    executor_([claim, proceed, done = std::move(done)]() mutable {
      proceed(claim(/*may_wait=*/true), /*may_block=*/true, std::move(done));
    });
    return;
  }
  proceed(std::move(first), may_block, std::move(done));
}

void EnvelopeDispatcher::RunHandler(
    const HandlerEntry* handler, v1::Envelope* request,
    const HandlerContext* context, absl::Time now, bool may_block,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  if (handler->streaming) {
    RunStreaming(handler, request, context, now, may_block,
                 /*emit=*/nullptr, /*mark_final=*/false, std::move(done));
    return;
  }
  if (handler->blocking) {
    auto run = [this, request, context, now, handler,
                done = std::move(done)]() {
      absl::StatusOr<v1::Envelope> response;
      // A handler is user code: an exception must not unwind into gRPC's or
      // the worker pool's threads (it would end the process).
      try {
        response = handler->blocking(*request, *context);
      } catch (const std::exception& e) {
        response = HandlerThrew(*request, e.what());
      } catch (...) {
        response = HandlerThrew(*request, "an exception of unknown type");
      }
      done(Complete(*request, now, std::move(response)));
    };
    if (may_block || handler->runs_inline) {
      run();
    } else {
      executor_(std::move(run));
    }
    return;
  }
  // The async handler may call `once` on any thread, or more than once by
  // mistake: only the first call counts.
  struct Pending {
    std::function<void(absl::StatusOr<v1::Envelope>)> done;
    std::atomic<bool> called{false};
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  HandlerDone once = [this, request, now,
                      pending](absl::StatusOr<v1::Envelope> response) {
    if (pending->called.exchange(true)) return;
    pending->done(Complete(*request, now, std::move(response)));
  };
  try {
    handler->async(*request, *context, once);
  } catch (const std::exception& e) {
    once(HandlerThrew(*request, e.what()));
  } catch (...) {
    once(HandlerThrew(*request, "an exception of unknown type"));
  }
}

void EnvelopeDispatcher::DispatchStream(
    v1::Envelope* request, const HandlerContext* context, bool may_block,
    StreamEmit emit,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  // The call's log line, when its outcome is known; latency from here.
  if (call_log_ != nullptr) {
    done = call_log_->Wrap(request, context->binding(), std::move(done));
  }
  absl::Time now = now_();
  absl::StatusOr<const HandlerEntry*> handler = Admit(request, *context, now);
  if (!handler.ok()) {
    done(handler.status());
    return;
  }
  if ((*handler)->streaming) {
    RunStreaming(*handler, request, context, now, may_block, std::move(emit),
                 /*mark_final=*/true, std::move(done));
    return;
  }
  // Any other handler form answers with its final envelope alone.
  Run(*handler, request, context, now, may_block,
      [done = std::move(done)](absl::StatusOr<v1::Envelope> response) {
        if (response.ok()) MarkFinal(&*response, true);
        done(std::move(response));
      });
}

void EnvelopeDispatcher::RunStreaming(
    const HandlerEntry* handler, v1::Envelope* request,
    const HandlerContext* context, absl::Time now, bool may_block,
    StreamEmit emit, bool mark_final,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  // What the handler's `emit` shares with the call. The handler may copy
  // `emit` and call it from other threads, even after returning: the lock
  // serializes the calls, and `ended` turns them away once `done` is due.
  struct Stream {
    absl::Mutex mu;
    bool ended ABSL_GUARDED_BY(mu) = false;
    // The binding said stop, or an intermediate was invalid.
    bool stopped ABSL_GUARDED_BY(mu) = false;
    absl::Status error ABSL_GUARDED_BY(mu);
  };
  auto stream = std::make_shared<Stream>();
  StreamEmit handler_emit;
  if (emit == nullptr) {
    handler_emit = [](v1::Envelope) { return true; };
  } else {
    handler_emit = [this, stream, request,
                    emit = std::move(emit)](v1::Envelope intermediate) {
      absl::MutexLock lock(&stream->mu);
      if (stream->ended || stream->stopped) return false;
      absl::StatusOr<v1::Envelope> completed =
          Complete(*request, now_(), std::move(intermediate),
                   "sent an invalid intermediate envelope");
      if (!completed.ok()) {
        stream->stopped = true;
        stream->error = completed.status();
        return false;
      }
      MarkFinal(&*completed, false);
      if (!emit(*std::move(completed))) stream->stopped = true;
      return !stream->stopped;
    };
  }
  auto run = [this, handler, request, context, mark_final, stream,
              handler_emit = std::move(handler_emit),
              done = std::move(done)]() {
    absl::StatusOr<v1::Envelope> response;
    try {
      response = handler->streaming(*request, *context, handler_emit);
    } catch (const std::exception& e) {
      response = HandlerThrew(*request, e.what());
    } catch (...) {
      response = HandlerThrew(*request, "an exception of unknown type");
    }
    absl::Status error;
    {
      // Waits for an emit in progress on another thread; none starts after.
      absl::MutexLock lock(&stream->mu);
      stream->ended = true;
      error = stream->error;
    }
    if (!error.ok()) {
      done(error);
      return;
    }
    // Stamped now, after the intermediates the handler sent before it.
    response = Complete(*request, now_(), std::move(response));
    if (response.ok() && mark_final) MarkFinal(&*response, true);
    done(std::move(response));
  };
  if (may_block) {
    run();
  } else {
    executor_(std::move(run));
  }
}

absl::StatusOr<v1::Envelope> EnvelopeDispatcher::Dispatch(
    v1::Envelope request) const {
  HandlerContext context(manifest_);
  absl::Notification finished;
  absl::StatusOr<v1::Envelope> result;
  Dispatch(&request, &context, /*may_block=*/true,
           [&](absl::StatusOr<v1::Envelope> response) {
             result = std::move(response);
             finished.Notify();
           });
  finished.WaitForNotification();
  return result;
}

}  // namespace asap
