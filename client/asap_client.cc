#include "client/asap_client.h"

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asap/compression/codec.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/channel_factory.h"
#include "client/http/http_transport.h"
#include "client/internal/batch_call.h"
#include "client/internal/body_codec.h"
#include "client/internal/call_tracker.h"
#include "client/manifest_cache_interceptor.h"

namespace asap {
namespace internal {

// The retry budget of one client, and the waits between attempts, which
// Close() cuts short so that the client's destructor never waits out a
// backoff.
class RetryControl : public std::enable_shared_from_this<RetryControl> {
 public:
  explicit RetryControl(const RetryOptions& options)
      : ratio_(options.budget_ratio),
        capacity_(options.budget_tokens),
        tokens_(options.budget_tokens) {}

  // A new call (not a retry) adds its share to the budget.
  void OnCall() {
    absl::MutexLock lock(&mu_);
    tokens_ = std::min(capacity_, tokens_ + ratio_);
  }

  // Takes a token for one retry; false (and counted) when none is left.
  bool TryRetry() {
    absl::MutexLock lock(&mu_);
    if (tokens_ < 1) {
      ++stats_.budget_refusals;
      return false;
    }
    tokens_ -= 1;
    ++stats_.retries;
    return true;
  }

  void CountRateLimitRetry() {
    absl::MutexLock lock(&mu_);
    ++stats_.rate_limit_retries;
  }

  void CountBatchResume(size_t envelopes) {
    absl::MutexLock lock(&mu_);
    ++stats_.batch_resumes;
    stats_.batch_envelopes_resent += envelopes;
  }

  AsapClient::RetryStats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  // Blocks for `wait`; false when Close() was called before or meanwhile.
  bool Sleep(absl::Duration wait) {
    absl::Time until = absl::Now() + wait;
    absl::MutexLock lock(&mu_);
    while (!closed_ && absl::Now() < until) cv_.WaitWithDeadline(&mu_, until);
    return !closed_;
  }

  // Runs `f(true)` on a gRPC thread after `wait`, or `f(false)` once Close()
  // is called (at once, on this thread, if it already was).
  void After(absl::Duration wait, std::function<void(bool)> f) {
    auto alarm = std::make_shared<grpc::Alarm>();
    {
      absl::MutexLock lock(&mu_);
      if (!closed_) alarms_.emplace(alarm.get(), alarm);
    }
    if (alarm.use_count() == 1) {
      f(false);
      return;
    }
    alarm->Set(absl::ToChronoTime(absl::Now() + wait),
               [self = shared_from_this(), key = alarm.get(),
                f = std::move(f)](bool ok) {
                 std::shared_ptr<grpc::Alarm> fired;
                 {
                   absl::MutexLock lock(&self->mu_);
                   auto it = self->alarms_.find(key);
                   if (it != self->alarms_.end()) {
                     fired = std::move(it->second);
                     self->alarms_.erase(it);
                   }
                 }
                 f(ok);
               });
    // Close() may have run before the alarm was set, when cancelling it did
    // nothing.
    bool closed;
    {
      absl::MutexLock lock(&mu_);
      closed = closed_;
    }
    if (closed) alarm->Cancel();
  }

  // Ends every wait now (Sleep returns false, alarms fire with false), and
  // every later one at once. Idempotent.
  void Close() {
    std::vector<std::shared_ptr<grpc::Alarm>> pending;
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      cv_.SignalAll();
      for (auto& [key, alarm] : alarms_) pending.push_back(alarm);
    }
    for (const std::shared_ptr<grpc::Alarm>& alarm : pending) alarm->Cancel();
  }

 private:
  const double ratio_;
  const double capacity_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  AsapClient::RetryStats stats_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<grpc::Alarm*, std::shared_ptr<grpc::Alarm>> alarms_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace internal

namespace {

absl::Status ShuttingDown() {
  return AsapError(ErrorCode::kCancelled, "the client is shutting down");
}

// Whether an attempt that failed with `status` may be sent again: gRPC could
// not reach a working agent. A token provider's failure surfaces as
// UNAVAILABLE too, and a certificate that does not verify fails the same way
// every time: neither is retried.
bool RetryableFailure(const grpc::Status& status, const absl::Status& error) {
  if ((status.error_code() != grpc::StatusCode::UNAVAILABLE &&
       !internal::StreamResetWithoutAnswer(status)) ||
      ErrorCodeOf(error) != ErrorCode::kUnavailable) {
    return false;
  }
  const std::string& message = status.error_message();
  return !absl::StartsWith(message, "Getting metadata from plugin") &&
         !absl::StrContains(message, "CERTIFICATE_VERIFY_FAILED") &&
         !absl::StrContains(message, "Ssl handshake failed");
}

bool KnownCompression(Compression compression) {
  switch (compression) {
    case Compression::kNone:
    case Compression::kGzip:
    case Compression::kBrotli:
      return true;
  }
  return false;
}

absl::Status ValidateCompressionOptions(const CompressionOptions& options) {
  if (!KnownCompression(options.algorithm)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompressionOptions.algorithm must be kNone, kGzip or "
                     "kBrotli, got ",
                     static_cast<int>(options.algorithm)));
  }
  for (Compression accepted : options.accept_encoding) {
    if (!KnownCompression(accepted)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CompressionOptions.accept_encoding holds an unknown value ",
          static_cast<int>(accepted)));
    }
  }
  if (options.algorithm == Compression::kNone) return absl::OkStatus();
  const bool brotli = options.algorithm == Compression::kBrotli;
  const int max_level = brotli ? 11 : 9;
  const int min_level = brotli ? 0 : 1;
  if (options.level != -1 &&
      (options.level < min_level || options.level > max_level)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CompressionOptions.level for ", CompressionName(options.algorithm),
        " must be -1 or ", min_level, "-", max_level, ", got ", options.level));
  }
  return absl::OkStatus();
}

// The client's bearer token as gRPC call credentials: asked for on every
// call, on gRPC's thread for blocking plugins.
class TokenPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenPlugin(std::shared_ptr<TokenProvider> provider)
      : provider_(std::move(provider)) {}
  bool IsBlocking() const override { return provider_->MayBlock(); }
  const char* GetType() const override { return "asap-bearer-token"; }
  grpc::Status GetMetadata(
      grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
      const grpc::AuthContext& /*channel_auth_context*/,
      std::multimap<std::string, std::string>* metadata) override {
    absl::StatusOr<std::string> header = BearerAuthorization(*provider_);
    if (!header.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string(header.status().message()));
    }
    metadata->emplace("authorization", *std::move(header));
    return grpc::Status::OK;
  }

 private:
  const std::shared_ptr<TokenProvider> provider_;
};

// Null without a provider. The minimum security level is none, so loopback
// and plaintext test targets work too; docs/SECURITY.md says to use TLS.
std::shared_ptr<grpc::CallCredentials> CallCredentialsFor(
    const std::shared_ptr<TokenProvider>& provider) {
  if (provider == nullptr) return nullptr;
  return grpc::experimental::MetadataCredentialsFromPlugin(
      std::make_unique<TokenPlugin>(provider), GRPC_SECURITY_NONE);
}

// The client's manifest cache: the shared one, a new one, or none.
std::shared_ptr<ManifestCache> CacheFor(const ManifestCacheSettings& cache) {
  if (!cache.enabled) return nullptr;
  if (cache.shared_cache != nullptr) return cache.shared_cache;
  ManifestCacheOptions options;
  options.default_ttl = cache.ttl;
  options.max_size = cache.max_size;
  options.clock = cache.clock;
  return std::make_shared<ManifestCache>(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AsapClient>> AsapClient::Create(
    ClientOptions options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("ClientOptions.target is empty");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ClientOptions.timeout must be positive");
  }
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        "ClientOptions.max_message_bytes must be positive");
  }
  if (absl::Status s = ValidateCompressionOptions(options.compression);
      !s.ok()) {
    return s;
  }
  const RetryOptions& retry = options.retry;
  if (retry.max_retries < 0 || retry.initial_backoff < absl::ZeroDuration() ||
      retry.max_backoff < retry.initial_backoff || retry.budget_ratio < 0 ||
      retry.budget_tokens < 0) {
    return absl::InvalidArgumentError(
        "ClientOptions.retry: max_retries, budget_ratio and budget_tokens "
        "must not be negative, 0 <= initial_backoff <= max_backoff");
  }
  if (absl::Status s = ValidateClientTlsOptions(options.tls); !s.ok()) {
    return s;
  }
  std::unique_ptr<AsapClient> client(new AsapClient(std::move(options)));
  if (internal::IsHttpTarget(client->options_.target)) {
    if (absl::Status s = ValidateChannelPoolOptions(client->options_.pool);
        !s.ok()) {
      return s;
    }
    client->manifest_cache_ = CacheFor(client->options_.manifest_cache);
    absl::StatusOr<std::unique_ptr<internal::HttpTransport>> http =
        internal::HttpTransport::Create(client->options_,
                                        client->manifest_cache_);
    if (!http.ok()) return http.status();
    client->http_ = *std::move(http);
    return client;
  }
  ChannelSettings settings;
  settings.max_message_bytes = client->options_.max_message_bytes;
  // "none" means no compression either way, gRPC's own included.
  settings.accept_grpc_compression =
      client->options_.compression.algorithm != Compression::kNone;
  if (client->options_.tls.enabled) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        TlsCredentials(client->options_.tls);
    if (!credentials.ok()) return credentials.status();
    settings.credentials = *std::move(credentials);
    settings.server_name = client->options_.tls.server_name;
  }
  std::string target = client->options_.target;
  const ManifestCacheSettings& cache = client->options_.manifest_cache;
  client->manifest_cache_ = CacheFor(cache);
  if (cache.enabled) {
    std::shared_ptr<ManifestCache> shared = client->manifest_cache_;
    // Two identities sharing a cache never share an entry.
    std::string key = target;
    if (client->options_.token_provider != nullptr) {
      absl::StrAppend(&key, "#", client->options_.token_provider->CacheKey());
    }
    settings.interceptors = [shared, key] {
      InterceptorFactories factories;
      factories.push_back(MakeManifestCacheInterceptorFactory(shared, key));
      return factories;
    };
  }
  absl::StatusOr<std::unique_ptr<ChannelPool>> pool =
      ChannelPool::Create(client->options_.pool, [target, settings](int index) {
        return CreateAsapChannel(target, index, settings);
      });
  if (!pool.ok()) return pool.status();
  client->pool_ = *std::move(pool);
  return client;
}

// One Send on the wire: on the stack of Send, on the heap for SendAsync
// until its callback. `call` is declared first so that it is destroyed last:
// its registration must end after everything else is released.
struct AsapClient::SendCall {
  explicit SendCall(internal::CallTracker::Call c) : call(std::move(c)) {}
  internal::CallTracker::Call call;
  std::optional<ChannelPool::Lease> lease;
  // Applied to the context of every attempt.
  CallOptions call_options;
  v1::Envelope request;
  std::optional<v1::CompressedEnvelope> compressed_request;
  v1::Envelope response;
  v1::CompressedEnvelope compressed_response;
};

AsapClient::AsapClient(ClientOptions options)
    : options_(std::move(options)),
      calls_(internal::CallTracker::Create(
          CallCredentialsFor(options_.token_provider))),
      retries_(std::make_shared<internal::RetryControl>(options_.retry)) {}

AsapClient::~AsapClient() {
  // The transport stays (a call made meanwhile is cancelled by it) until the
  // members go.
  if (http_ != nullptr) http_->Shutdown();
  calls_->Close();
  retries_->Close();
  if (pool_ != nullptr) pool_->Close();
  calls_->WaitUntilIdle();
}

absl::Status AsapClient::Prepare(v1::Envelope* envelope) const {
  absl::Time now = absl::Now();
  FillEnvelopeDefaults(envelope, now);
  if (!options_.validate_before_send) return absl::OkStatus();
  return ValidateEnvelope(*envelope, now, options_.validation);
}

absl::Time AsapClient::DeadlineOf(const CallOptions& call) const {
  return call.deadline == absl::InfiniteFuture()
             ? absl::Now() + options_.timeout
             : call.deadline;
}

absl::Status AsapClient::CheckCall(const CallOptions& call,
                                   absl::Time deadline) {
  if (absl::Status s = ValidateCallOptions(call); !s.ok()) return s;
  if (deadline <= absl::Now()) {
    return AsapError(ErrorCode::kDeadlineExceeded,
                     "the call's deadline passed before it started");
  }
  return absl::OkStatus();
}

void AsapClient::ApplyCallOptions(const CallOptions& call, absl::Time deadline,
                                  grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(deadline));
  for (const auto& [key, value] : call.metadata) {
    context->AddMetadata(key, value);
  }
  if (call.wait_for_ready) context->set_wait_for_ready(true);
}

std::string AsapClient::server_encodings() const {
  absl::MutexLock lock(&stats_mu_);
  return compression_stats_.server_encodings;
}

void AsapClient::NoteAdvertisement(const grpc::ClientContext& context,
                                   bool authoritative) {
  std::optional<std::string> advertised =
      internal::AdvertisedEncodings(context);
  if (!advertised.has_value() && !authoritative) return;
  absl::MutexLock lock(&stats_mu_);
  compression_stats_.server_encodings = advertised.value_or("");
}

AsapClient::CompressionStats AsapClient::compression_stats() const {
  if (http_ != nullptr) return http_->compression_stats();
  absl::MutexLock lock(&stats_mu_);
  return compression_stats_;
}

absl::StatusOr<std::unique_ptr<AsapClient::SendCall>> AsapClient::BeginSend() {
  // Registered before anything else, so that the destructor waits for this
  // call from here on (including its wait for pool capacity).
  absl::StatusOr<internal::CallTracker::Call> registered = calls_->Begin();
  if (!registered.ok()) return registered.status();
  return std::make_unique<SendCall>(*std::move(registered));
}

absl::Status AsapClient::StartSend(v1::Envelope envelope, absl::Time deadline,
                                   SendCall* call) {
  if (absl::Status status = Prepare(&envelope); !status.ok()) return status;
  absl::StatusOr<std::optional<v1::CompressedEnvelope>> compressed =
      internal::EncodeRequestBody(envelope, options_.compression,
                                  server_encodings());
  if (!compressed.ok()) return compressed.status();
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  call->lease.emplace(*std::move(lease));
  call->request = std::move(envelope);
  call->compressed_request = *std::move(compressed);
  ApplyCallOptions(call->call_options, deadline, call->call.context());
  retries_->OnCall();
  return absl::OkStatus();
}

absl::Status AsapClient::NextAttempt(SendCall* call, absl::Time deadline) {
  // The new registration begins before the old one ends, so the destructor
  // waits for this call throughout.
  absl::StatusOr<internal::CallTracker::Call> next = calls_->Begin();
  if (!next.ok()) return next.status();
  call->call = *std::move(next);
  ApplyCallOptions(call->call_options, deadline, call->call.context());
  call->response.Clear();
  call->compressed_response.Clear();
  return absl::OkStatus();
}

absl::StatusOr<v1::Envelope> AsapClient::FinishSend(
    SendCall& call, const grpc::Status& status) {
  bool compressed = call.compressed_request.has_value();
  NoteAdvertisement(*call.call.context(), status.ok() && !compressed);
  // A failed call's error goes back as it is: resending (say, uncompressed)
  // could run the handler twice.
  if (!status.ok()) return call.call.Error(status);
  if (!compressed) return std::move(call.response);
  const v1::CompressedEnvelope& answer = call.compressed_response;
  absl::StatusOr<v1::Envelope> response = internal::DecodeResponseBody(
      answer, static_cast<size_t>(options_.max_message_bytes));
  if (!response.ok()) return response.status();
  absl::MutexLock lock(&stats_mu_);
  ++compression_stats_.requests_compressed;
  compression_stats_.request_bytes_raw += call.request.ByteSizeLong();
  compression_stats_.request_bytes_sent +=
      call.compressed_request->body().size();
  if (!answer.encoding().empty() && answer.encoding() != kIdentityEncoding) {
    ++compression_stats_.responses_compressed;
    compression_stats_.response_bytes_received += answer.body().size();
    compression_stats_.response_bytes_raw += response->ByteSizeLong();
  }
  return response;
}

absl::StatusOr<v1::Envelope> AsapClient::Send(v1::Envelope envelope) {
  return Send(std::move(envelope), CallOptions());
}

absl::StatusOr<v1::Envelope> AsapClient::Send(v1::Envelope envelope,
                                              const CallOptions& call_options) {
  const absl::Time deadline = DeadlineOf(call_options);
  if (absl::Status s = CheckCall(call_options, deadline); !s.ok()) return s;
  if (http_ != nullptr) {
    return http_->Send(std::move(envelope), call_options, deadline);
  }
  absl::StatusOr<std::unique_ptr<SendCall>> call = BeginSend();
  if (!call.ok()) return call.status();
  SendCall& c = **call;
  c.call_options = call_options;
  if (absl::Status status = StartSend(std::move(envelope), deadline, &c);
      !status.ok()) {
    return status;
  }
  RetryCounts counts;
  while (true) {
    auto stub = v1::AsapService::NewStub(c.lease->channel());
    grpc::Status status =
        c.compressed_request.has_value()
            ? stub->SendCompressed(c.call.context(), *c.compressed_request,
                                   &c.compressed_response)
            : stub->Send(c.call.context(), c.request, &c.response);
    absl::StatusOr<v1::Envelope> result = FinishSend(c, status);
    std::optional<absl::Duration> wait = RetryWait(
        status, result.status(), /*rate_limits=*/true, deadline, &counts);
    if (!wait.has_value()) return result;
    // The same envelope (same id) goes again.
    if (!retries_->Sleep(*wait)) return ShuttingDown();
    if (absl::Status next = NextAttempt(&c, deadline); !next.ok()) {
      return next;
    }
  }
}

std::optional<absl::Duration> AsapClient::RetryWait(const grpc::Status& status,
                                                    const absl::Status& error,
                                                    bool rate_limits,
                                                    absl::Time deadline,
                                                    RetryCounts* counts) const {
  if (status.ok()) return std::nullopt;
  if (rate_limits) {
    std::optional<absl::Duration> wait =
        RateLimitWait(error, counts->rate_limited, deadline);
    if (wait.has_value()) {
      ++counts->rate_limited;
      retries_->CountRateLimitRetry();
      return wait;
    }
  }
  const RetryOptions& retry = options_.retry;
  if (counts->unavailable >= retry.max_retries ||
      !RetryableFailure(status, error)) {
    return std::nullopt;
  }
  absl::Duration wait = retry.initial_backoff;
  for (int i = 0; i < counts->unavailable && wait < retry.max_backoff; ++i) {
    wait *= 2;
  }
  wait = std::min(retry.max_backoff, wait);
  wait = std::min(
      retry.max_backoff,
      wait + absl::Milliseconds(absl::Uniform<double>(
                 absl::BitGen(), 0, 0.2 * absl::ToDoubleMilliseconds(wait))));
  if (absl::Now() + wait >= deadline || !retries_->TryRetry()) {
    return std::nullopt;
  }
  ++counts->unavailable;
  return wait;
}

AsapClient::RetryStats AsapClient::retry_stats() const {
  return retries_->stats();
}

std::optional<absl::Duration> AsapClient::RateLimitWait(
    const absl::Status& status, int attempt, absl::Time give_up) const {
  if (ErrorCodeOf(status) != ErrorCode::kRateLimited ||
      attempt >= options_.rate_limit_retries) {
    return std::nullopt;
  }
  std::optional<absl::Duration> wait = RetryAfterOf(status);
  if (!wait.has_value() || *wait > options_.http.retry.max_retry_after ||
      absl::Now() + *wait >= give_up) {
    return std::nullopt;
  }
  return wait;
}

// A SendAsync between its attempts: owned by the RPC in flight or by the
// alarm of its next retry.
struct AsapClient::AsyncSend {
  std::unique_ptr<SendCall> call;
  SendCallback done;
  absl::Time deadline;
  RetryCounts counts;
  // SendStreamAsync only.
  IntermediateCallback on_intermediate;
};

void AsapClient::SendAsync(v1::Envelope envelope, SendCallback done) {
  SendAsync(std::move(envelope), CallOptions(), std::move(done));
}

void AsapClient::SendAsync(v1::Envelope envelope,
                           const CallOptions& call_options, SendCallback done) {
  const absl::Time deadline = DeadlineOf(call_options);
  if (absl::Status s = CheckCall(call_options, deadline); !s.ok()) {
    done(s);
    return;
  }
  if (http_ != nullptr) {
    http_->SendAsync(std::move(envelope), call_options, deadline,
                     std::move(done));
    return;
  }
  std::unique_ptr<AsyncSend> send =
      BeginAsync(std::move(envelope), call_options, deadline, std::move(done));
  if (send != nullptr) StartAsyncAttempt(std::move(send));
}

std::unique_ptr<AsapClient::AsyncSend> AsapClient::BeginAsync(
    v1::Envelope envelope, const CallOptions& call_options, absl::Time deadline,
    SendCallback done) {
  absl::StatusOr<std::unique_ptr<SendCall>> started = BeginSend();
  if (!started.ok()) {
    done(started.status());
    return nullptr;
  }
  (*started)->call_options = call_options;
  // On an error before the RPC, `done` runs while the call is still
  // registered, as it would from the RPC's callback.
  if (absl::Status status =
          StartSend(std::move(envelope), deadline, started->get());
      !status.ok()) {
    done(status);
    return nullptr;
  }
  auto send = std::make_unique<AsyncSend>();
  send->call = *std::move(started);
  send->done = std::move(done);
  send->deadline = deadline;
  return send;
}

void AsapClient::StartAsyncAttempt(std::unique_ptr<AsyncSend> send) {
  SendCall* call = send->call.get();
  auto on_done = [this, send = send.release()](grpc::Status status) {
    OnAsyncDone(std::unique_ptr<AsyncSend>(send), status);
  };
  auto stub = v1::AsapService::NewStub(call->lease->channel());
  if (call->compressed_request.has_value()) {
    stub->async()->SendCompressed(
        call->call.context(), &*call->compressed_request,
        &call->compressed_response, std::move(on_done));
  } else {
    stub->async()->Send(call->call.context(), &call->request, &call->response,
                        std::move(on_done));
  }
}

void AsapClient::OnAsyncDone(std::unique_ptr<AsyncSend> send,
                             const grpc::Status& status) {
  absl::StatusOr<v1::Envelope> result = FinishSend(*send->call, status);
  std::optional<absl::Duration> wait =
      RetryWait(status, result.status(), /*rate_limits=*/true, send->deadline,
                &send->counts);
  if (!wait.has_value()) {
    CompleteAsync(std::move(send), std::move(result));
    return;
  }
  RetryAsyncAfter(*wait, std::move(send), &AsapClient::StartAsyncAttempt);
}

void AsapClient::RetryAsyncAfter(
    absl::Duration wait, std::unique_ptr<AsyncSend> send,
    void (AsapClient::*start)(std::unique_ptr<AsyncSend>)) {
  // The wait runs on a gRPC alarm, not on a thread; the call stays
  // registered meanwhile, and the destructor fires the alarm early.
  retries_->After(wait, [this, start, send = send.release()](bool ok) {
    std::unique_ptr<AsyncSend> owned(send);
    absl::Status next =
        ok ? NextAttempt(owned->call.get(), owned->deadline) : ShuttingDown();
    if (next.ok()) {
      (this->*start)(std::move(owned));
    } else {
      CompleteAsync(std::move(owned), next);
    }
  });
}

void AsapClient::CompleteAsync(std::unique_ptr<AsyncSend> send,
                               absl::StatusOr<v1::Envelope> result) {
  // The registration ends last, once `done` has run and is destroyed: the
  // destructor waits for that. Everything else (the stream first) goes back
  // before `done`, so a callback that sends again finds the stream free.
  internal::CallTracker::Call registration = std::move(send->call->call);
  SendCallback user_done = std::move(send->done);
  send.reset();
  user_done(std::move(result));
}

namespace {

// Removes the streaming marker `payload.final`; returns whether it was true.
bool TakeFinalMark(v1::Envelope* envelope) {
  auto* fields = envelope->mutable_payload()->mutable_fields();
  auto it = fields->find("final");
  if (it == fields->end()) return false;
  bool final = it->second.bool_value();
  fields->erase(it);
  return final;
}

}  // namespace

absl::StatusOr<v1::Envelope> AsapClient::SendStream(
    v1::Envelope envelope, const IntermediateCallback& on_intermediate) {
  return SendStream(std::move(envelope), CallOptions(), on_intermediate);
}

absl::StatusOr<v1::Envelope> AsapClient::SendStream(
    v1::Envelope envelope, const CallOptions& call_options,
    const IntermediateCallback& on_intermediate) {
  const absl::Time deadline = DeadlineOf(call_options);
  if (absl::Status s = CheckCall(call_options, deadline); !s.ok()) return s;
  if (http_ != nullptr) {
    return http_->SendStream(std::move(envelope), call_options, deadline,
                             on_intermediate);
  }
  absl::StatusOr<std::unique_ptr<SendCall>> call = BeginSend();
  if (!call.ok()) return call.status();
  SendCall& c = **call;
  c.call_options = call_options;
  // SendStream has no compressed form: the request goes as it is (gRPC's
  // own compression still applies).
  if (absl::Status status = StartSend(std::move(envelope), deadline, &c);
      !status.ok()) {
    return status;
  }
  RetryCounts counts;
  while (true) {
    auto stub = v1::AsapService::NewStub(c.lease->channel());
    std::unique_ptr<grpc::ClientReader<v1::Envelope>> reader =
        stub->SendStream(c.call.context(), c.request);
    std::optional<v1::Envelope> final;
    bool received_any = false;
    v1::Envelope received;
    while (reader->Read(&received)) {
      received_any = true;
      if (TakeFinalMark(&received)) {
        final = std::move(received);
      } else if (!final.has_value() && on_intermediate) {
        on_intermediate(received);
      }
      received.Clear();
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) {
      absl::Status error = c.call.Error(status);
      // Once the handler has said something, the stream is not started over.
      std::optional<absl::Duration> wait =
          received_any ? std::nullopt
                       : RetryWait(status, error, /*rate_limits=*/false,
                                   deadline, &counts);
      if (!wait.has_value()) return error;
      if (!retries_->Sleep(*wait)) return ShuttingDown();
      if (absl::Status next = NextAttempt(&c, deadline); !next.ok()) {
        return next;
      }
      continue;
    }
    if (!final.has_value()) {
      return AsapError(ErrorCode::kInternal,
                       "the stream ended without a final envelope");
    }
    return *std::move(final);
  }
}

// Reads one attempt of a SendStreamAsync: intermediates go to the
// callback as they arrive, the final envelope is kept for the end.
class AsapClient::StreamReader final
    : public grpc::ClientReadReactor<v1::Envelope> {
 public:
  StreamReader(AsapClient* client, std::unique_ptr<AsyncSend> send)
      : client_(client), send_(std::move(send)) {}

  void Start() {
    // Reading send_ under mu_ also publishes the state built so far to the
    // reactions (see mu_). Not held across StartCall, which may run a
    // reaction on this thread.
    SendCall* call;
    {
      absl::MutexLock lock(&mu_);
      call = send_->call.get();
    }
    auto stub = v1::AsapService::NewStub(call->lease->channel());
    stub->async()->SendStream(call->call.context(), &call->request, this);
    StartRead(&received_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    v1::Envelope intermediate;
    const IntermediateCallback* callback = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) return;  // the stream ended; OnDone follows
      received_any_ = true;
      if (TakeFinalMark(&received_)) {
        final_ = std::move(received_);
      } else if (!final_.has_value() && send_->on_intermediate) {
        intermediate = std::move(received_);
        callback = &send_->on_intermediate;
      }
      received_.Clear();
    }
    // Not under mu_: the callback may start other calls, which may wait for
    // pool capacity.
    if (callback != nullptr) (*callback)(intermediate);
    absl::MutexLock lock(&mu_);
    StartRead(&received_);
  }

  void OnDone(const grpc::Status& status) override {
    AsapClient* client = client_;
    std::unique_ptr<AsyncSend> send;
    bool received_any;
    std::optional<v1::Envelope> final;
    {
      absl::MutexLock lock(&mu_);
      send = std::move(send_);
      received_any = received_any_;
      final = std::move(final_);
    }
    delete this;
    client->OnStreamDone(std::move(send), status, received_any,
                         std::move(final));
  }

 private:
  AsapClient* const client_;
  // gRPC runs the reactions one after another, but on any of its threads,
  // ordered by its own (uninstrumented) synchronization. Each reaction takes
  // this uncontended mutex (before and after the caller's `on_intermediate`,
  // never around it), so that the order is one ThreadSanitizer sees too, for
  // the caller's code as well.
  absl::Mutex mu_;
  std::unique_ptr<AsyncSend> send_ ABSL_GUARDED_BY(mu_);
  v1::Envelope received_;  // gRPC writes it between reactions
  bool received_any_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<v1::Envelope> final_ ABSL_GUARDED_BY(mu_);
};

void AsapClient::SendStreamAsync(v1::Envelope envelope,
                                 IntermediateCallback on_intermediate,
                                 SendCallback done) {
  SendStreamAsync(std::move(envelope), CallOptions(),
                  std::move(on_intermediate), std::move(done));
}

void AsapClient::SendStreamAsync(v1::Envelope envelope,
                                 const CallOptions& call_options,
                                 IntermediateCallback on_intermediate,
                                 SendCallback done) {
  const absl::Time deadline = DeadlineOf(call_options);
  if (absl::Status s = CheckCall(call_options, deadline); !s.ok()) {
    done(s);
    return;
  }
  if (http_ != nullptr) {
    http_->SendStreamAsync(std::move(envelope), call_options, deadline,
                           std::move(on_intermediate), std::move(done));
    return;
  }
  std::unique_ptr<AsyncSend> send =
      BeginAsync(std::move(envelope), call_options, deadline, std::move(done));
  if (send == nullptr) return;
  send->on_intermediate = std::move(on_intermediate);
  StartStreamAttempt(std::move(send));
}

void AsapClient::StartStreamAttempt(std::unique_ptr<AsyncSend> send) {
  (new StreamReader(this, std::move(send)))->Start();
}

void AsapClient::OnStreamDone(std::unique_ptr<AsyncSend> send,
                              const grpc::Status& status, bool received_any,
                              std::optional<v1::Envelope> final) {
  if (status.ok()) {
    CompleteAsync(std::move(send),
                  final.has_value()
                      ? absl::StatusOr<v1::Envelope>(*std::move(final))
                      : AsapError(ErrorCode::kInternal,
                                  "the stream ended without a final envelope"));
    return;
  }
  absl::Status error = send->call->call.Error(status);
  // Once the handler has said something, the stream is not started over.
  std::optional<absl::Duration> wait =
      received_any ? std::nullopt
                   : RetryWait(status, error, /*rate_limits=*/false,
                               send->deadline, &send->counts);
  if (!wait.has_value()) {
    CompleteAsync(std::move(send), std::move(error));
    return;
  }
  RetryAsyncAfter(*wait, std::move(send), &AsapClient::StartStreamAttempt);
}

absl::StatusOr<AsapClient::BatchResults> AsapClient::SendBatch(
    std::vector<v1::Envelope> envelopes, const BatchOptions& options) {
  return SendBatch(std::move(envelopes), options, CallOptions());
}

absl::StatusOr<AsapClient::BatchResults> AsapClient::SendBatch(
    std::vector<v1::Envelope> envelopes, const BatchOptions& options,
    const CallOptions& call_options) {
  if (envelopes.empty()) {
    return absl::InvalidArgumentError("SendBatch needs at least one envelope");
  }
  if (options.max_envelopes_per_frame < 1 || options.window < 1 ||
      options.max_frame_bytes < 1 || options.timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "BatchOptions: max_envelopes_per_frame, window and max_frame_bytes "
        "must be positive, timeout not negative");
  }
  if (options.timeout > absl::ZeroDuration() &&
      call_options.deadline != absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(
        "SendBatch: set either BatchOptions::timeout or CallOptions::deadline, "
        "not both");
  }
  const absl::Time deadline = options.timeout > absl::ZeroDuration()
                                  ? absl::Now() + options.timeout
                                  : DeadlineOf(call_options);
  if (absl::Status s = CheckCall(call_options, deadline); !s.ok()) return s;
  if (http_ != nullptr) {
    return http_->SendBatch(std::move(envelopes), options, call_options,
                            deadline);
  }
  absl::StatusOr<internal::CallTracker::Call> call = calls_->Begin();
  if (!call.ok()) return call.status();
  // A frame must fit in one message; leave room for the frame's own framing.
  size_t message_limit = static_cast<size_t>(options_.max_message_bytes);
  size_t max_frame_bytes =
      std::min(options.max_frame_bytes, message_limit - message_limit / 16);
  BatchResults results(envelopes.size(), absl::InternalError("not sent"));
  std::vector<size_t> positions;  // the envelopes that go on the wire
  positions.reserve(envelopes.size());
  for (size_t i = 0; i < envelopes.size(); ++i) {
    absl::Status status = Prepare(&envelopes[i]);
    // An envelope larger than max_frame_bytes travels in a frame of its own;
    // one larger than a message cannot travel at all.
    if (status.ok() &&
        envelopes[i].ByteSizeLong() + 16 > message_limit - message_limit / 16) {
      status = AsapError(
          ErrorCode::kPayloadTooLarge,
          absl::StrCat("envelope of ", envelopes[i].ByteSizeLong(),
                       " bytes exceeds the message limit of ", message_limit));
    }
    if (!status.ok()) {
      if (options.fail_fast) return internal::BatchEnvelopeError(status, i);
      results[i] = status;
      continue;
    }
    positions.push_back(i);
  }
  if (positions.empty()) return results;
  retries_->OnCall();
  RetryCounts counts;
  while (true) {
    absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
    if (!lease.ok()) return lease.status();
    ApplyCallOptions(call_options, deadline, call->context());
    internal::BatchCompression compression;
    compression.options = &options_.compression;
    compression.advertised = server_encodings();
    compression.max_message_bytes = message_limit;
    internal::BatchOutcome outcome;
    absl::Status status = internal::RunBatchCall(
        *call, lease->channel(), envelopes, positions, options, max_frame_bytes,
        compression, &results, &outcome);
    NoteAdvertisement(*call->context(), /*authoritative=*/false);
    if (!status.ok()) return status;
    if (outcome.unanswered.empty()) return results;
    // The stream broke before every envelope had its result (the agent
    // died, or drains and told the client to go elsewhere): the envelopes
    // without one go again, on a new stream, with their ids, so an agent
    // that remembers ids answers those it already ran from its store.
    std::optional<absl::Duration> wait =
        RetryWait(outcome.status, outcome.error, /*rate_limits=*/false,
                  deadline, &counts);
    if (!wait.has_value()) {
      if (options.fail_fast) {
        return internal::BatchEnvelopeError(outcome.error,
                                            outcome.unanswered.front());
      }
      return results;
    }
    if (!retries_->Sleep(*wait)) return ShuttingDown();
    retries_->CountBatchResume(outcome.unanswered.size());
    positions = std::move(outcome.unanswered);
    absl::StatusOr<internal::CallTracker::Call> next = calls_->Begin();
    if (!next.ok()) return next.status();
    *call = *std::move(next);
  }
}

absl::StatusOr<v1::Manifest> AsapClient::GetManifest() {
  return GetManifest(CallOptions());
}

absl::StatusOr<v1::Manifest> AsapClient::GetManifest(
    const CallOptions& call_options) {
  const absl::Time deadline = DeadlineOf(call_options);
  if (absl::Status s = CheckCall(call_options, deadline); !s.ok()) return s;
  if (http_ != nullptr) return http_->GetManifest(call_options, deadline);
  absl::StatusOr<internal::CallTracker::Call> call = calls_->Begin();
  if (!call.ok()) return call.status();
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  ApplyCallOptions(call_options, deadline, call->context());
  retries_->OnCall();
  RetryCounts counts;
  while (true) {
    grpc::ClientContext* context = call->context();
    v1::Manifest manifest;
    grpc::Status status =
        v1::AsapService::NewStub(lease->channel())
            ->GetManifest(context, v1::GetManifestRequest(), &manifest);
    // The manifest cache answers most GetManifest calls itself, with no
    // metadata: only a header that is there counts.
    NoteAdvertisement(*context, /*authoritative=*/false);
    if (status.ok()) return manifest;
    absl::Status error = call->Error(status);
    // Reading the manifest changes nothing: it is retried like a Send.
    std::optional<absl::Duration> wait =
        RetryWait(status, error, /*rate_limits=*/false, deadline, &counts);
    if (!wait.has_value()) return error;
    if (!retries_->Sleep(*wait)) return ShuttingDown();
    absl::StatusOr<internal::CallTracker::Call> next = calls_->Begin();
    if (!next.ok()) return next.status();
    *call = *std::move(next);
    ApplyCallOptions(call_options, deadline, call->context());
  }
}

ChannelPool::Stats AsapClient::pool_stats() const {
  if (http_ != nullptr) return http_->pool_stats();
  return pool_->stats();
}

AsapClient::HttpStats AsapClient::http_stats() const {
  if (http_ != nullptr) return http_->http_stats();
  return {};
}

}  // namespace asap
