#include "client/asap_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/channel_factory.h"
#include "client/internal/batch_call.h"
#include "client/manifest_cache_interceptor.h"

namespace asap {
namespace {

// Marks the connection broken when the call shows the peer is unreachable.
void ReportIfBroken(const grpc::Status& status, ChannelPool::Lease* lease) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    lease->ReportFailure();
  }
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
  std::unique_ptr<AsapClient> client(new AsapClient(std::move(options)));
  ChannelSettings settings;
  settings.max_message_bytes = client->options_.max_message_bytes;
  std::string target = client->options_.target;
  const ManifestCacheSettings& cache = client->options_.manifest_cache;
  if (cache.enabled) {
    if (cache.shared_cache != nullptr) {
      client->manifest_cache_ = cache.shared_cache;
    } else {
      ManifestCacheOptions cache_options;
      cache_options.default_ttl = cache.ttl;
      cache_options.max_size = cache.max_size;
      cache_options.clock = cache.clock;
      client->manifest_cache_ = std::make_shared<ManifestCache>(cache_options);
    }
    std::shared_ptr<ManifestCache> shared = client->manifest_cache_;
    settings.interceptors = [shared, target] {
      InterceptorFactories factories;
      factories.push_back(MakeManifestCacheInterceptorFactory(shared, target));
      return factories;
    };
  }
  absl::StatusOr<std::unique_ptr<ChannelPool>> pool = ChannelPool::Create(
      client->options_.pool, [target, settings](int index) {
        return CreateAsapChannel(target, index, settings);
      });
  if (!pool.ok()) return pool.status();
  client->pool_ = *std::move(pool);
  return client;
}

AsapClient::AsapClient(ClientOptions options) : options_(std::move(options)) {}

AsapClient::~AsapClient() = default;

absl::Status AsapClient::Prepare(v1::Envelope* envelope) const {
  absl::Time now = absl::Now();
  FillEnvelopeDefaults(envelope, now);
  if (!options_.validate_before_send) return absl::OkStatus();
  return ValidateEnvelope(*envelope, now, options_.validation);
}

absl::StatusOr<v1::Envelope> AsapClient::Send(v1::Envelope envelope) {
  if (absl::Status status = Prepare(&envelope); !status.ok()) return status;
  absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  v1::Envelope response;
  grpc::Status status = v1::AsapService::NewStub(lease->channel())
                            ->Send(&context, envelope, &response);
  ReportIfBroken(status, &*lease);
  if (!status.ok()) return FromGrpcStatus(status, &context);
  return response;
}

void AsapClient::SendAsync(v1::Envelope envelope, SendCallback done) {
  if (absl::Status status = Prepare(&envelope); !status.ok()) {
    done(status);
    return;
  }
  absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) {
    done(lease.status());
    return;
  }
  struct Call {
    explicit Call(ChannelPool::Lease l) : lease(std::move(l)) {}
    ChannelPool::Lease lease;
    grpc::ClientContext context;
    v1::Envelope request;
    v1::Envelope response;
    SendCallback done;
  };
  auto* call = new Call(*std::move(lease));
  call->request = std::move(envelope);
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(deadline));
  v1::AsapService::NewStub(call->lease.channel())
      ->async()
      ->Send(&call->context, &call->request, &call->response,
             [call](grpc::Status status) {
               std::unique_ptr<Call> owned(call);
               ReportIfBroken(status, &owned->lease);
               SendCallback done = std::move(owned->done);
               absl::StatusOr<v1::Envelope> result =
                   status.ok() ? absl::StatusOr<v1::Envelope>(
                                     std::move(owned->response))
                               : FromGrpcStatus(status, &owned->context);
               // Return the stream to the pool before the user's callback, so
               // a callback that sends again finds it free.
               owned.reset();
               done(std::move(result));
             });
}

absl::StatusOr<AsapClient::BatchResults> AsapClient::SendBatch(
    std::vector<v1::Envelope> envelopes, const BatchOptions& options) {
  if (envelopes.empty()) {
    return absl::InvalidArgumentError("SendBatch needs at least one envelope");
  }
  if (options.max_envelopes_per_frame < 1 || options.window < 1 ||
      options.max_frame_bytes < 1 || options.timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "BatchOptions: max_envelopes_per_frame, window and max_frame_bytes "
        "must be positive, timeout not negative");
  }
  absl::Time deadline =
      absl::Now() + (options.timeout > absl::ZeroDuration() ? options.timeout
                                                            : options_.timeout);
  // A frame must fit in one message; leave room for the frame's own framing.
  size_t message_limit = static_cast<size_t>(options_.max_message_bytes);
  size_t max_frame_bytes =
      std::min(options.max_frame_bytes, message_limit - message_limit / 16);
  BatchResults results(envelopes.size(),
                       absl::InternalError("not sent"));
  std::vector<size_t> positions;  // the envelopes that go on the wire
  positions.reserve(envelopes.size());
  for (size_t i = 0; i < envelopes.size(); ++i) {
    absl::Status status = Prepare(&envelopes[i]);
    // An envelope larger than max_frame_bytes travels in a frame of its own;
    // one larger than a message cannot travel at all.
    if (status.ok() &&
        envelopes[i].ByteSizeLong() + 16 > message_limit - message_limit / 16) {
      status = AsapError(ErrorCode::kPayloadTooLarge,
                         absl::StrCat("envelope of ",
                                      envelopes[i].ByteSizeLong(),
                                      " bytes exceeds the message limit of ",
                                      message_limit));
    }
    if (!status.ok()) {
      if (options.fail_fast) {
        return absl::Status(status.code(),
                            absl::StrCat(status.message(), " (batch envelope ",
                                         i, ")"));
      }
      results[i] = status;
      continue;
    }
    positions.push_back(i);
  }
  if (positions.empty()) return results;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  absl::Status status =
      internal::RunBatchCall(lease->channel(), &envelopes, positions, options,
                             max_frame_bytes, deadline, &results);
  if (!status.ok()) return status;
  return results;
}

absl::StatusOr<v1::Manifest> AsapClient::GetManifest() {
  absl::Time deadline = absl::Now() + options_.timeout;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return lease.status();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  v1::Manifest manifest;
  grpc::Status status =
      v1::AsapService::NewStub(lease->channel())
          ->GetManifest(&context, v1::GetManifestRequest(), &manifest);
  ReportIfBroken(status, &*lease);
  if (!status.ok()) return FromGrpcStatus(status, &context);
  return manifest;
}

ChannelPool::Stats AsapClient::pool_stats() const { return pool_->stats(); }

}  // namespace asap
