// ServerMetrics: what the server counts about the envelopes it handles, for
// both bindings (gRPC and HTTP), rendered in the Prometheus text exposition
// format 0.0.4.
//
//   asap::ServerMetrics metrics(handlers.payload_types());
//   {
//     asap::ServerMetrics::InFlight call = metrics.TrackCall("grpc");
//     absl::Time arrived = absl::Now();
//     ...
//     metrics.RecordEnvelope("grpc", request.payload_type(),
//                            asap::ServerMetrics::Outcome(status),
//                            absl::Now() - arrived);
//   }
//   std::string text = metrics.RenderPrometheus();  // for GET /metrics
//
// The metrics (`binding` is "grpc" or "http"):
//
//   asap_requests_total{binding,payload_type,outcome}  counter
//     Envelopes handled (a unary call's envelope, or one envelope of a
//     batch). `payload_type` is one of the known payload types given to the
//     constructor, or "other" for anything else (including requests whose
//     envelope could not be read). `outcome` is "ok" or the ASAP error code
//     the envelope was answered with ("asap:protocol/malformed_envelope", ...).
//   asap_request_duration_seconds{binding}  histogram
//     Time from a request's arrival to its response being ready, per envelope
//     counted above (a batch envelope's response is ready when its frame's
//     results are). Buckets from 100 us to 10 s.
//   asap_calls_in_flight{binding}  gauge
//     Calls (unary calls and batch streams) being served.
//   asap_batch_size{binding}  histogram
//     Envelopes per batch call (a gRPC SendBatch stream, an HTTP JSON-RPC
//     batch) that carried at least one.
//   asap_idempotency_hits_total, asap_idempotency_claim_renewals_total,
//   asap_idempotency_claims_lost_total, asap_state_store_errors_total{store},
//   asap_state_store_fallbacks_total{store}  counters (SetStateSource)
//   asap_wire_bytes_total{binding,direction}  counter
//   asap_decoded_bytes_total{binding,direction}  counter
//     Bytes of request (`direction="in"`) and response (`direction="out"`)
//     bodies: as they travel (compressed when they are) and decoded (after
//     decompression, before compression). Their ratio is the compression
//     ratio. Compression a transport applies below the binding (gRPC's own
//     response compression) is not seen: it counts as uncompressed.
//
// Every series stays bounded whatever clients send: bindings, outcomes and
// payload types come from fixed sets, so hostile payload_type strings all
// land in "other". Counters for every (binding, payload type, outcome) are
// allocated up front (2 x (known types + 1) x 25 counters of 8 bytes, 40 KB
// for 100 payload types), so recording is a hash lookup and a few relaxed
// atomic increments: no lock, no allocation. Series of
// asap_requests_total are rendered once they are non-zero; the others are
// always rendered, for both bindings.
#ifndef ASAP_SERVER_METRICS_H_
#define ASAP_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace asap {

// The Content-Type of RenderPrometheus() text, for an HTTP /metrics answer.
inline constexpr char kPrometheusContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

class ServerMetrics {
 public:
  // The binding label values.
  static constexpr absl::string_view kGrpc = "grpc";
  static constexpr absl::string_view kHttp = "http";

  enum class Direction { kIn, kOut };

  // Keeps a binding's asap_calls_in_flight raised while it lives. Movable; a
  // default-constructed one tracks nothing.
  class InFlight {
   public:
    InFlight() = default;
    InFlight(InFlight&& other) noexcept
        : gauge_(std::exchange(other.gauge_, nullptr)) {}
    InFlight& operator=(InFlight&& other) noexcept;
    ~InFlight() { Release(); }

    // Lowers the gauge now (once).
    void Release();

   private:
    friend class ServerMetrics;
    explicit InFlight(std::atomic<int64_t>* gauge);
    std::atomic<int64_t>* gauge_ = nullptr;
  };

  // Payload types in `known_payload_types` get their own payload_type label
  // value; duplicates, and "other" itself, are ignored.
  explicit ServerMetrics(std::vector<std::string> known_payload_types);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // The outcome label of a call answered with `status`: "ok", or its ASAP
  // error code name (ErrorCodeOf).
  static absl::string_view Outcome(const absl::Status& status);

  // Counts one envelope handled by `binding` ("grpc" or "http"; anything
  // else is ignored). `outcome` is "ok" or an ASAP error code name; any other
  // string counts as "asap:internal/error". A negative latency counts as 0.
  // Thread-safe, lock-free.
  void RecordEnvelope(absl::string_view binding, absl::string_view payload_type,
                      absl::string_view outcome, absl::Duration latency);

  // Raises `binding`'s in-flight gauge until the result is destroyed (an
  // unknown binding tracks nothing).
  InFlight TrackCall(absl::string_view binding);

  // Records the number of envelopes of one batch call.
  void RecordBatch(absl::string_view binding, size_t envelopes);

  // Counts the bytes of one request (kIn) or response (kOut) body: on the
  // wire and decoded.
  void RecordBytes(absl::string_view binding, Direction direction,
                   size_t wire_bytes, size_t decoded_bytes);

  // All metrics in the Prometheus text exposition format 0.0.4 (served with
  // kPrometheusContentType). Thread-safe; concurrent recording may or may not
  // be included, but every histogram is consistent (its +Inf bucket equals
  // its _count).
  std::string RenderPrometheus() const;

  // The HTTP listener's connection counters (accepted so far, open now),
  // rendered as asap_http_connections_accepted_total and
  // asap_http_connections_open. Null (the default) leaves them out; set to
  // null before the listener goes away.
  using ConnectionCounts = std::function<std::pair<uint64_t, uint64_t>()>;
  void SetHttpConnectionSource(ConnectionCounts source);

  // The shared-state counters: envelopes answered from the idempotency
  // store without running their handler, and the replay and idempotency
  // stores' failed commands and fallbacks, rendered as
  // asap_idempotency_hits_total, asap_state_store_errors_total{store} and
  // asap_state_store_fallbacks_total{store} (store "replay" or
  // "idempotency"); and the claims of long handlers renewed, and lost
  // (asap_idempotency_claim_renewals_total,
  // asap_idempotency_claims_lost_total). Null (the default) leaves them out.
  struct StateCounts {
    uint64_t idempotency_hits = 0;
    uint64_t claim_renewals = 0;
    uint64_t claims_lost = 0;
    uint64_t replay_errors = 0;
    uint64_t replay_fallbacks = 0;
    uint64_t idempotency_errors = 0;
    uint64_t idempotency_fallbacks = 0;
  };
  void SetStateSource(std::function<StateCounts()> source);

 private:
  static constexpr int kBindings = 2;
  static constexpr int kDurationBuckets = 16;
  static constexpr int kBatchBuckets = 12;

  // Per-bucket (not cumulative) counts, the last one for values above every
  // bound; RenderPrometheus adds them up.
  template <int kBounds>
  struct Histogram {
    std::array<std::atomic<uint64_t>, kBounds + 1> buckets{};
    std::atomic<uint64_t> sum{0};
  };

  struct BindingSeries {
    Histogram<kDurationBuckets> duration;  // sum in nanoseconds
    Histogram<kBatchBuckets> batch_size;
    std::atomic<int64_t> in_flight{0};
    // [direction][0 = wire, 1 = decoded]
    std::atomic<uint64_t> bytes[2][2] = {};
  };

  // Index of the series of (binding, payload type, outcome) in requests_.
  size_t RequestIndex(int binding, int payload_type, int outcome) const;

  mutable absl::Mutex source_mu_;
  ConnectionCounts http_connections_ ABSL_GUARDED_BY(source_mu_);
  std::function<StateCounts()> state_ ABSL_GUARDED_BY(source_mu_);

  // Known payload types, then "other" (index payload_types_.size()).
  std::vector<std::string> payload_types_;
  absl::flat_hash_map<std::string, int> payload_type_index_;
  std::unique_ptr<std::atomic<uint64_t>[]> requests_;
  std::array<BindingSeries, kBindings> bindings_;
};

}  // namespace asap

#endif  // ASAP_SERVER_METRICS_H_
