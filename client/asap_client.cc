#include "client/asap_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asap/compression/codec.h"
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
  std::unique_ptr<AsapClient> client(new AsapClient(std::move(options)));
  ChannelSettings settings;
  settings.max_message_bytes = client->options_.max_message_bytes;
  // "none" means no compression either way, gRPC's own included.
  settings.accept_grpc_compression =
      client->options_.compression.algorithm != "none";
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
  absl::StatusOr<std::unique_ptr<ChannelPool>> pool =
      ChannelPool::Create(client->options_.pool, [target, settings](int index) {
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
  if (auto compressed = TrySendCompressed(envelope, deadline)) {
    return *std::move(compressed);
  }
  return SendPlain(envelope, deadline);
}

std::optional<absl::StatusOr<v1::CompressedEnvelope>>
AsapClient::EncodeCompressed(const v1::Envelope& envelope) const {
  const CompressionOptions& compression = options_.compression;
  if (compression.algorithm == "none") return std::nullopt;
  {
    absl::MutexLock lock(&stats_mu_);
    if (compression_stats_.compression_refused) return std::nullopt;
  }
  size_t size = envelope.ByteSizeLong();
  if (size < compression.threshold_bytes) return std::nullopt;
  const CompressionCodec* codec = *FindCodec(compression.algorithm);
  absl::StatusOr<std::string> body =
      codec->Compress(envelope.SerializeAsString(), compression.level);
  if (!body.ok()) {
    return absl::StatusOr<v1::CompressedEnvelope>(body.status());
  }
  if (body->size() >= size) return std::nullopt;  // incompressible: send as is
  v1::CompressedEnvelope request;
  request.set_encoding(compression.algorithm);
  request.set_accept_encoding(compression.accept_encoding);
  request.set_body(*std::move(body));
  return absl::StatusOr<v1::CompressedEnvelope>(std::move(request));
}

bool AsapClient::NoteIfCompressionRefused(const grpc::Status& status,
                                          const absl::Status& error) {
  std::optional<ErrorCode> code = ErrorCodeOf(error);
  // A server without SendCompressed (UNIMPLEMENTED with no ASAP code of its
  // own) or without this encoding: send uncompressed from now on.
  bool refused = code == ErrorCode::kUnsupportedEncoding ||
                 (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
                  code != ErrorCode::kHandlerNotFound);
  if (refused) {
    absl::MutexLock lock(&stats_mu_);
    compression_stats_.compression_refused = true;
  }
  return refused;
}

absl::StatusOr<v1::Envelope> AsapClient::DecodeCompressed(
    const v1::CompressedEnvelope& request, const v1::CompressedEnvelope& answer,
    size_t request_raw_bytes) {
  absl::StatusOr<std::string> bytes = answer.body();
  bool compressed_answer =
      !answer.encoding().empty() && answer.encoding() != kIdentityEncoding;
  if (compressed_answer) {
    absl::StatusOr<const CompressionCodec*> codec =
        FindCodec(answer.encoding());
    if (!codec.ok()) return codec.status();
    bytes = (*codec)->Decompress(
        answer.body(), static_cast<size_t>(options_.max_message_bytes));
    if (!bytes.ok()) return bytes.status();
  }
  v1::Envelope response;
  if (!response.ParseFromString(*bytes)) {
    return AsapError(ErrorCode::kMalformedEnvelope,
                     "the response body is not an Envelope");
  }
  absl::MutexLock lock(&stats_mu_);
  ++compression_stats_.requests_compressed;
  compression_stats_.request_bytes_raw += request_raw_bytes;
  compression_stats_.request_bytes_sent += request.body().size();
  if (compressed_answer) {
    ++compression_stats_.responses_compressed;
    compression_stats_.response_bytes_received += answer.body().size();
    compression_stats_.response_bytes_raw += bytes->size();
  }
  return response;
}

std::optional<absl::StatusOr<v1::Envelope>> AsapClient::TrySendCompressed(
    const v1::Envelope& envelope, absl::Time deadline) {
  auto encoded = EncodeCompressed(envelope);
  if (!encoded) return std::nullopt;
  if (!encoded->ok()) return absl::StatusOr<v1::Envelope>(encoded->status());
  const v1::CompressedEnvelope& request = **encoded;
  absl::StatusOr<ChannelPool::Lease> lease = pool_->Acquire(deadline);
  if (!lease.ok()) return absl::StatusOr<v1::Envelope>(lease.status());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  v1::CompressedEnvelope answer;
  grpc::Status status = v1::AsapService::NewStub(lease->channel())
                            ->SendCompressed(&context, request, &answer);
  ReportIfBroken(status, &*lease);
  if (!status.ok()) {
    absl::Status error = FromGrpcStatus(status, &context);
    if (NoteIfCompressionRefused(status, error)) return std::nullopt;
    return absl::StatusOr<v1::Envelope>(error);
  }
  return DecodeCompressed(request, answer, envelope.ByteSizeLong());
}

AsapClient::CompressionStats AsapClient::compression_stats() const {
  absl::MutexLock lock(&stats_mu_);
  return compression_stats_;
}

absl::StatusOr<v1::Envelope> AsapClient::SendPlain(const v1::Envelope& envelope,
                                                   absl::Time deadline) {
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
  auto encoded = EncodeCompressed(envelope);
  if (encoded && !encoded->ok()) {
    done(encoded->status());
    return;
  }
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
    v1::CompressedEnvelope compressed_request;
    v1::CompressedEnvelope compressed_response;
    SendCallback done;
  };
  auto* call = new Call(*std::move(lease));
  call->request = std::move(envelope);
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(deadline));
  auto stub = v1::AsapService::NewStub(call->lease.channel());
  if (!encoded) {
    stub->async()->Send(
        &call->context, &call->request, &call->response,
        [call](grpc::Status status) {
          std::unique_ptr<Call> owned(call);
          ReportIfBroken(status, &owned->lease);
          SendCallback done = std::move(owned->done);
          absl::StatusOr<v1::Envelope> result =
              status.ok()
                  ? absl::StatusOr<v1::Envelope>(std::move(owned->response))
                  : FromGrpcStatus(status, &owned->context);
          // Return the stream to the pool before the user's callback, so a
          // callback that sends again finds it free.
          owned.reset();
          done(std::move(result));
        });
    return;
  }
  call->compressed_request = **std::move(encoded);
  stub->async()->SendCompressed(
      &call->context, &call->compressed_request, &call->compressed_response,
      [this, call](grpc::Status status) {
        std::unique_ptr<Call> owned(call);
        ReportIfBroken(status, &owned->lease);
        SendCallback done = std::move(owned->done);
        if (!status.ok()) {
          absl::Status error = FromGrpcStatus(status, &owned->context);
          if (NoteIfCompressionRefused(status, error)) {
            // Send it again, uncompressed (refusal is now remembered).
            v1::Envelope request = std::move(owned->request);
            owned.reset();
            SendAsync(std::move(request), std::move(done));
            return;
          }
          owned.reset();
          done(error);
          return;
        }
        absl::StatusOr<v1::Envelope> result = DecodeCompressed(
            owned->compressed_request, owned->compressed_response,
            owned->request.ByteSizeLong());
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
