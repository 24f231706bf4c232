#include "server/grpc/asap_service.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/grpc_status.h"
#include "asap/v1/service.grpc.pb.h"
#include "google/protobuf/arena.h"
#include "server/grpc/batch_stream.h"
#include "server/grpc/compressed_send.h"
#include "server/grpc/request_bytes.h"
#include "server/grpc/send_stream.h"
#include "server/metrics.h"
#include "server/security/certificate_uris.h"

namespace asap {
namespace {

using RawAsapService = v1::AsapService::WithRawCallbackMethod_Send<
    v1::AsapService::WithRawCallbackMethod_GetManifest<
        v1::AsapService::WithRawCallbackMethod_SendBatch<
            v1::AsapService::WithRawCallbackMethod_SendCompressed<
                v1::AsapService::WithRawCallbackMethod_SendStream<
                    v1::AsapService::Service>>>>>;

template <typename Message>
void SerializeTo(const Message& message, grpc::ByteBuffer* out) {
  bool own_buffer;
  grpc::SerializationTraits<Message>::Serialize(message, out, &own_buffer);
}

// One unary call (Send or SendCompressed) from its bytes to its answer.
struct UnaryCall {
  explicit UnaryCall(const v1::Manifest* manifest) : context(manifest) {}
  grpc::CallbackServerContext* server_context = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
  grpc::ByteBuffer* response = nullptr;
  HandlerContext context;
  google::protobuf::Arena arena;
  v1::Envelope* envelope = nullptr;
  MemoryBudget::Reservation wire_memory;
  MemoryBudget::Reservation parsed_memory;
  // SendCompressed only: the encodings the client accepts.
  std::string accept_encoding;
  bool compressed_call = false;
  // For ServerMetrics: the request's arrival and sizes (wire, and decoded as
  // far as it got), and the call counted in flight.
  absl::Time arrived;
  size_t wire_bytes = 0;
  size_t decoded_bytes = 0;
  ServerMetrics::InFlight in_flight;
};

}  // namespace

void FillHandlerContext(grpc::CallbackServerContext* context,
                        std::string identity, HandlerContext* out) {
  out->set_binding("grpc");
  out->set_identity(std::move(identity));
  out->set_peer(context->peer());
  gpr_timespec deadline = context->raw_deadline();
  if (deadline.tv_sec != INT64_MAX) {
    out->set_deadline(absl::FromChrono(context->deadline()));
  }
  out->set_cancellation_check([context] { return context->IsCancelled(); });
  for (const auto& [key, value] : context->client_metadata()) {
    absl::string_view name(key.data(), key.size());
    // The caller's credentials stay with the server: a handler that passed
    // its metadata on would replay them.
    if (absl::EndsWith(name, "-bin") || name == "authorization") continue;
    out->add_metadata(std::string(key.data(), key.size()),
                      std::string(value.data(), value.size()));
  }
}

absl::StatusOr<std::string> AuthenticateCall(
    const ServiceCore& core, const grpc::CallbackServerContext& context) {
  if (core.authenticator == nullptr || !core.authenticator->enabled()) {
    return std::string();
  }
  CallCredentials credentials;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    credentials.authorization =
        absl::string_view(it->second.data(), it->second.size());
  }
  // gRPC lists every SAN of a verified client certificate (DNS, e-mail,
  // URI, IP) under one property, which cannot tell a URI from a DNS name
  // spelled like one; the URI SANs are read from the certificate itself.
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    std::vector<grpc::string_ref> pem =
        auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pem.empty()) {
      credentials.certificate_uris = CertificateUrisFromPem(
          absl::string_view(pem.front().data(), pem.front().size()));
    }
  }
  return core.authenticator->Authenticate(credentials);
}

void AddAuthChallenge(grpc::CallbackServerContext* context) {
  context->AddTrailingMetadata("www-authenticate", kWwwAuthenticate);
}

namespace {

// A streaming call refused before it started: finishes at once.
template <typename Reactor>
class RefusedCall final : public Reactor {
 public:
  explicit RefusedCall(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

class AsapGrpcService::Impl final : public RawAsapService {
 public:
  explicit Impl(ServiceCore core)
      : core_(std::move(core)),
        accept_encoding_(ServerAcceptEncoding()),
        watchdog_(core_.stream_stall_timeout) {}

  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override {
    return StartUnary(context, request, response, /*compressed=*/false);
  }

  grpc::ServerUnaryReactor* SendCompressed(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override {
    return StartUnary(context, request, response, /*compressed=*/true);
  }

  grpc::ServerUnaryReactor* GetManifest(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    context->AddInitialMetadata(kAcceptEncodingMetadataKey, accept_encoding_);
    // The manifest stays public: it is how a client learns which
    // authentication schemes the agent wants.
    int64_t max_age = absl::ToInt64Seconds(core_.manifest_max_age);
    if (max_age > 0) {
      context->AddInitialMetadata("asap-manifest-max-age",
                                  std::to_string(max_age));
    }
    SerializeTo(*core_.manifest, response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* SendBatch(
      grpc::CallbackServerContext* context) override {
    absl::StatusOr<std::string> identity = AuthenticateCall(core_, *context);
    if (!identity.ok()) {
      AddAuthChallenge(context);
      return new RefusedCall<
          grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>>(
          ToGrpcStatus(identity.status(), context));
    }
    return StartBatchStream(&core_, &watchdog_, context, *std::move(identity));
  }

  grpc::ServerWriteReactor<grpc::ByteBuffer>* SendStream(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override {
    absl::StatusOr<std::string> identity = AuthenticateCall(core_, *context);
    if (!identity.ok()) {
      AddAuthChallenge(context);
      return new RefusedCall<grpc::ServerWriteReactor<grpc::ByteBuffer>>(
          ToGrpcStatus(identity.status(), context));
    }
    return StartSendStream(&core_, &watchdog_, context, request,
                           *std::move(identity));
  }

 private:
  grpc::ServerUnaryReactor* StartUnary(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response,
                                       bool compressed) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    context->AddInitialMetadata(kAcceptEncodingMetadataKey, accept_encoding_);
    auto call = std::make_unique<UnaryCall>(core_.manifest);
    call->server_context = context;
    call->reactor = reactor;
    call->response = response;
    call->compressed_call = compressed;
    call->arrived = absl::Now();
    if (core_.metrics != nullptr) {
      call->in_flight = core_.metrics->TrackCall(ServerMetrics::kGrpc);
    }
    // Before the request's bytes are even looked at.
    absl::StatusOr<std::string> identity = AuthenticateCall(core_, *context);
    if (!identity.ok()) {
      RecordMetrics(*call, /*payload_type=*/"", identity.status(),
                    /*response_wire=*/0, /*response_decoded=*/0);
      AddAuthChallenge(context);
      reactor->Finish(ToGrpcStatus(identity.status(), context));
      return reactor;
    }
    if (absl::Status status = Admit(*request, call.get()); !status.ok()) {
      // The envelope was not read: its payload type counts as "other".
      RecordMetrics(*call, /*payload_type=*/"", status, /*response_wire=*/0,
                    /*response_decoded=*/0);
      reactor->Finish(ToGrpcStatus(status, context));
      return reactor;
    }
    FillHandlerContext(context, *std::move(identity), &call->context);
    UnaryCall* raw = call.release();
    core_.dispatcher->Dispatch(
        raw->envelope, &raw->context, /*may_block=*/false,
        [this, raw](absl::StatusOr<v1::Envelope> result) {
          Answer(std::unique_ptr<UnaryCall>(raw), std::move(result));
        });
    return reactor;
  }

  // Bounds, decompresses, checks and parses the request into call->envelope.
  absl::Status Admit(const grpc::ByteBuffer& request, UnaryCall* call) {
    const size_t limit = core_.max_message_bytes;
    // The wire bytes and their copy, plus room to inflate a gRPC-compressed
    // message and a SendCompressed body (each at most `limit`).
    size_t wire = WireSize(request);
    call->wire_bytes = wire;
    size_t needed = 2 * wire + (IsGrpcCompressed(request) ? limit : 0) +
                    (call->compressed_call ? limit : 0);
    absl::StatusOr<MemoryBudget::Reservation> wire_memory =
        core_.memory->Reserve(needed);
    if (!wire_memory.ok()) return wire_memory.status();
    call->wire_memory = *std::move(wire_memory);
    absl::StatusOr<std::string> bytes = ReadRequestBytes(request, limit);
    if (!bytes.ok()) return bytes.status();
    call->decoded_bytes = bytes->size();
    if (call->compressed_call) {
      v1::CompressedEnvelope compressed;
      if (!compressed.ParseFromString(*bytes)) {
        return AsapError(ErrorCode::kMalformedEnvelope,
                         "the message is not a CompressedEnvelope");
      }
      call->accept_encoding = compressed.accept_encoding();
      bytes = DecodeBody(compressed.encoding(), compressed.body(), limit);
      if (!bytes.ok()) return bytes.status();
      call->decoded_bytes = bytes->size();
    }
    absl::StatusOr<WireCounts> counts =
        ScanEnvelopeBytes(*bytes, core_.envelope_limits);
    if (!counts.ok()) return counts.status();
    absl::StatusOr<MemoryBudget::Reservation> parsed_memory =
        core_.memory->Reserve(EstimateParsedBytes(bytes->size(), *counts));
    if (!parsed_memory.ok()) return parsed_memory.status();
    call->parsed_memory = *std::move(parsed_memory);
    call->envelope =
        google::protobuf::Arena::CreateMessage<v1::Envelope>(&call->arena);
    if (!call->envelope->ParseFromString(*bytes)) {
      return AsapError(ErrorCode::kMalformedEnvelope,
                       "the message is not a serialized asap.v1.Envelope");
    }
    // The parsed envelope is what stays; the wire copy can go.
    call->wire_memory.Release();
    return absl::OkStatus();
  }

  void Answer(std::unique_ptr<UnaryCall> call,
              absl::StatusOr<v1::Envelope> result) {
    grpc::CallbackServerContext* context = call->server_context;
    grpc::ServerUnaryReactor* reactor = call->reactor;
    grpc::Status status = grpc::Status::OK;
    absl::Status outcome = result.status();
    size_t response_wire = 0;
    size_t response_decoded = 0;
    if (!result.ok()) {
      status = ToGrpcStatus(result.status(), context);
    } else if (size_t size = result->ByteSizeLong();
               size > core_.max_message_bytes) {
      outcome = AsapError(ErrorCode::kPayloadTooLarge,
                          absl::StrCat("the handler's response of ", size,
                                       " bytes exceeds the message limit of ",
                                       core_.max_message_bytes));
      status = ToGrpcStatus(outcome, context);
    } else if (call->compressed_call) {
      SerializeTo(EncodeBody(result->SerializeAsString(), call->accept_encoding,
                             core_.compression_threshold_bytes),
                  call->response);
      response_wire = call->response->Length();
      response_decoded = size;
    } else {
      SerializeTo(*result, call->response);
      // Counted uncompressed: gRPC compresses it (below) out of sight.
      response_wire = response_decoded = size;
      // Plain Send answers large responses with gRPC's own compression. A
      // level (not an algorithm) lets gRPC pick among what the client
      // announced in grpc-accept-encoding, and identity for a client that
      // announced none.
      if (size >= core_.compression_threshold_bytes) {
        context->set_compression_level(GRPC_COMPRESS_LEVEL_HIGH);
      }
    }
    RecordMetrics(*call, call->envelope->payload_type(), outcome, response_wire,
                  response_decoded);
    call.reset();  // frees the request before the answer goes out
    reactor->Finish(status);
  }

  // Records the call's envelope, its latency so far and its bytes.
  void RecordMetrics(const UnaryCall& call, absl::string_view payload_type,
                     const absl::Status& outcome, size_t response_wire,
                     size_t response_decoded) {
    ServerMetrics* metrics = core_.metrics;
    if (metrics == nullptr) return;
    metrics->RecordEnvelope(ServerMetrics::kGrpc, payload_type,
                            ServerMetrics::Outcome(outcome),
                            absl::Now() - call.arrived);
    metrics->RecordBytes(ServerMetrics::kGrpc, ServerMetrics::Direction::kIn,
                         call.wire_bytes, call.decoded_bytes);
    if (response_wire > 0 || response_decoded > 0) {
      metrics->RecordBytes(ServerMetrics::kGrpc, ServerMetrics::Direction::kOut,
                           response_wire, response_decoded);
    }
  }

  ServiceCore core_;
  const std::string accept_encoding_;
  StallWatchdog watchdog_;

 public:
  void DrainStreams() { watchdog_.DrainAll(); }
};

AsapGrpcService::AsapGrpcService(ServiceCore core)
    : impl_(std::make_unique<Impl>(std::move(core))) {}

AsapGrpcService::~AsapGrpcService() = default;

grpc::Service* AsapGrpcService::service() { return impl_.get(); }

void AsapGrpcService::DrainStreams() { impl_->DrainStreams(); }

}  // namespace asap
