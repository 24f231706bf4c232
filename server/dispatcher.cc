#include "server/dispatcher.h"

#include <atomic>
#include <exception>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
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
                                       NonceStore* nonces,
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

absl::StatusOr<const HandlerEntry*> EnvelopeDispatcher::Admit(
    v1::Envelope* request, const HandlerContext& context,
    absl::Time now) const {
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
  if (absl::Status status = CheckSender(*request, context.identity());
      !status.ok()) {
    return status;
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
  if (nonces_ != nullptr && request->has_extensions()) {
    auto it = request->extensions().fields().find("nonce");
    if (it != request->extensions().fields().end()) {
      if (absl::Status status =
              nonces_->CheckAndRemember(it->second.string_value(), now);
          !status.ok()) {
        return status;
      }
    }
  }
  return handler;
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
