#include "client/asap_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

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
namespace {

// Marks the connection broken when the call shows the peer is unreachable.
void ReportIfBroken(const grpc::Status& status, ChannelPool::Lease* lease) {
  // A failed token provider is not the connection's fault.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      !absl::StartsWith(status.error_message(),
                        "Getting metadata from plugin")) {
    lease->ReportFailure();
  }
}

// The client's manifest cache: the shared one, a new one, or none.
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
  const CompressionOptions& compression = options.compression;
  if (compression.algorithm != "none") {
    absl::StatusOr<const CompressionCodec*> codec =
        FindCodec(compression.algorithm);
    if (!codec.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CompressionOptions.algorithm must be none, gzip or br, got '",
          compression.algorithm, "'"));
    }
    int max_level = compression.algorithm == "br" ? 11 : 9;
    int min_level = compression.algorithm == "br" ? 0 : 1;
    if (compression.level != -1 &&
        (compression.level < min_level || compression.level > max_level)) {
      return absl::InvalidArgumentError(
          absl::StrCat("CompressionOptions.level for ", compression.algorithm,
                       " must be -1 or ", min_level, "-", max_level, ", got ",
                       compression.level));
    }
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
      client->options_.compression.algorithm != "none";
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
  v1::Envelope request;
  std::optional<v1::CompressedEnvelope> compressed_request;
  v1::Envelope response;
  v1::CompressedEnvelope compressed_response;
};

AsapClient::AsapClient(ClientOptions options)
    : options_(std::move(options)),
      calls_(internal::CallTracker::Create(
          CallCredentialsFor(options_.token_provider))) {}

AsapClient::~AsapClient() {
  // The transport stays (a call made meanwhile is cancelled by it) until the
  // members go.
  if (http_ != nullptr) http_->Shutdown();
  calls_->Close();
  if (pool_ != nullptr) pool_->Close();
  calls_->WaitUntilIdle();
}

absl::Status AsapClient::Prepare(v1::Envelope* envelope) const {
  absl::Time now = absl::Now();
  FillEnvelopeDefaults(envelope, now);
  if (!options_.validate_before_send) return absl::OkStatus();
  return ValidateEnvelope(*envelope, now, options_.validation);
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

absl::Status AsapClient::StartSend(v1::Envelope envelope, SendCall* call) {
  if (absl::Status status = Prepare(&envelope); !status.ok()) return status;
  absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<std::optional<v1::CompressedEnvelope>> compressed =
      internal::EncodeRequestBody(envelope, options_.compression,
                                  server_encodings());
  if (!compressed.ok()) return compressed.status();
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  call->lease.emplace(*std::move(lease));
  call->request = std::move(envelope);
  call->compressed_request = *std::move(compressed);
  call->call.context()->set_deadline(absl::ToChronoTime(deadline));
  return absl::OkStatus();
}

absl::StatusOr<v1::Envelope> AsapClient::FinishSend(
    SendCall& call, const grpc::Status& status) {
  ReportIfBroken(status, &*call.lease);
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
  if (http_ != nullptr) return http_->Send(std::move(envelope));
  const absl::Time give_up = absl::Now() + options_.timeout;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::unique_ptr<SendCall>> call = BeginSend();
    if (!call.ok()) return call.status();
    SendCall& c = **call;
    if (absl::Status status = StartSend(std::move(envelope), &c);
        !status.ok()) {
      return status;
    }
    auto stub = v1::AsapService::NewStub(c.lease->channel());
    grpc::Status status =
        c.compressed_request.has_value()
            ? stub->SendCompressed(c.call.context(), *c.compressed_request,
                                   &c.compressed_response)
            : stub->Send(c.call.context(), c.request, &c.response);
    absl::StatusOr<v1::Envelope> result = FinishSend(c, status);
    std::optional<absl::Duration> wait =
        RateLimitWait(result.status(), attempt, give_up);
    if (!wait.has_value()) return result;
    // The agent refused the envelope before reading it: the same one
    // (same id) goes again once the agent said it may.
    envelope = std::move(c.request);
    call->reset();
    absl::SleepFor(*wait);
  }
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

void AsapClient::SendAsync(v1::Envelope envelope, SendCallback done) {
  if (http_ != nullptr)
    return http_->SendAsync(std::move(envelope), std::move(done));
  absl::StatusOr<std::unique_ptr<SendCall>> started = BeginSend();
  if (!started.ok()) {
    done(started.status());
    return;
  }
  // On an error before the RPC, `done` runs while the call is still
  // registered, as it would from the RPC's callback.
  if (absl::Status status = StartSend(std::move(envelope), started->get());
      !status.ok()) {
    done(status);
    return;
  }
  SendCall* call = started->release();
  auto on_done = [this, call,
                  done = std::move(done)](grpc::Status status) mutable {
    std::unique_ptr<SendCall> owned(call);
    absl::StatusOr<v1::Envelope> result = FinishSend(*owned, status);
    // The registration ends last, once `done` has run and is destroyed: the
    // destructor waits for that. Everything else (the stream first) goes back
    // before `done`, so a callback that sends again finds the stream free.
    internal::CallTracker::Call registration = std::move(owned->call);
    SendCallback user_done = std::move(done);
    owned.reset();
    user_done(std::move(result));
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
  if (http_ != nullptr) {
    return http_->SendStream(std::move(envelope), on_intermediate);
  }
  absl::StatusOr<std::unique_ptr<SendCall>> call = BeginSend();
  if (!call.ok()) return call.status();
  SendCall& c = **call;
  // SendStream has no compressed form: the request goes as it is (gRPC's
  // own compression still applies).
  if (absl::Status status = StartSend(std::move(envelope), &c); !status.ok()) {
    return status;
  }
  auto stub = v1::AsapService::NewStub(c.lease->channel());
  std::unique_ptr<grpc::ClientReader<v1::Envelope>> reader =
      stub->SendStream(c.call.context(), c.request);
  std::optional<v1::Envelope> final;
  v1::Envelope received;
  while (reader->Read(&received)) {
    if (TakeFinalMark(&received)) {
      final = std::move(received);
    } else if (!final.has_value() && on_intermediate) {
      on_intermediate(received);
    }
    received.Clear();
  }
  grpc::Status status = reader->Finish();
  ReportIfBroken(status, &*c.lease);
  if (!status.ok()) return c.call.Error(status);
  if (!final.has_value()) {
    return AsapError(ErrorCode::kInternal,
                     "the stream ended without a final envelope");
  }
  return *std::move(final);
}

absl::StatusOr<AsapClient::BatchResults> AsapClient::SendBatch(
    std::vector<v1::Envelope> envelopes, const BatchOptions& options) {
  if (http_ != nullptr) return http_->SendBatch(std::move(envelopes), options);
  if (envelopes.empty()) {
    return absl::InvalidArgumentError("SendBatch needs at least one envelope");
  }
  if (options.max_envelopes_per_frame < 1 || options.window < 1 ||
      options.max_frame_bytes < 1 || options.timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "BatchOptions: max_envelopes_per_frame, window and max_frame_bytes "
        "must be positive, timeout not negative");
  }
  absl::StatusOr<internal::CallTracker::Call> call = calls_->Begin();
  if (!call.ok()) return call.status();
  absl::Time deadline =
      absl::Now() + (options.timeout > absl::ZeroDuration() ? options.timeout
                                                            : options_.timeout);
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
      if (options.fail_fast) {
        return absl::Status(
            status.code(),
            absl::StrCat(status.message(), " (batch envelope ", i, ")"));
      }
      results[i] = status;
      continue;
    }
    positions.push_back(i);
  }
  if (positions.empty()) return results;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  call->context()->set_deadline(absl::ToChronoTime(deadline));
  internal::BatchCompression compression;
  compression.options = &options_.compression;
  compression.advertised = server_encodings();
  compression.max_message_bytes = message_limit;
  absl::Status status =
      internal::RunBatchCall(*call, lease->channel(), &envelopes, positions,
                             options, max_frame_bytes, compression, &results);
  NoteAdvertisement(*call->context(), /*authoritative=*/false);
  if (!status.ok()) return status;
  return results;
}

absl::StatusOr<v1::Manifest> AsapClient::GetManifest() {
  if (http_ != nullptr) return http_->GetManifest();
  absl::StatusOr<internal::CallTracker::Call> call = calls_->Begin();
  if (!call.ok()) return call.status();
  absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  grpc::ClientContext* context = call->context();
  context->set_deadline(absl::ToChronoTime(deadline));
  v1::Manifest manifest;
  grpc::Status status =
      v1::AsapService::NewStub(lease->channel())
          ->GetManifest(context, v1::GetManifestRequest(), &manifest);
  ReportIfBroken(status, &*lease);
  // The manifest cache answers most GetManifest calls itself, with no
  // metadata: only a header that is there counts.
  NoteAdvertisement(*context, /*authoritative=*/false);
  if (!status.ok()) return call->Error(status);
  return manifest;
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
