#include "server/metrics.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asap/errors.h"
#include "asap/prometheus_text.h"

namespace asap {
namespace {

constexpr absl::string_view kBindingNames[] = {ServerMetrics::kGrpc,
                                               ServerMetrics::kHttp};
constexpr absl::string_view kOtherPayloadType = "other";
constexpr absl::string_view kOk = "ok";

// Outcome 0 is "ok", outcome 1 + c the ASAP error code c; kInternal is the
// last ErrorCode.
constexpr int kErrorCodes = static_cast<int>(ErrorCode::kInternal) + 1;
constexpr int kOutcomes = 1 + kErrorCodes;

// Bucket bounds: latencies in nanoseconds (so that bucketing is exact) with
// their `le` labels, and batch sizes.
constexpr int64_t kDurationBoundsNanos[] = {
    100'000,       250'000,       500'000,       1'000'000,
    2'500'000,     5'000'000,     10'000'000,    25'000'000,
    50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
constexpr absl::string_view kDurationLabels[] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10"};
constexpr uint64_t kBatchBounds[] = {1,   2,   5,   10,   20,   50,
                                     100, 200, 500, 1000, 5000, 10000};

int BindingIndex(absl::string_view binding) {
  for (int i = 0; i < static_cast<int>(std::size(kBindingNames)); ++i) {
    if (binding == kBindingNames[i]) return i;
  }
  return -1;
}

int OutcomeIndex(absl::string_view outcome) {
  if (outcome == kOk) return 0;
  std::optional<ErrorCode> code = ParseErrorCode(outcome);
  return 1 + static_cast<int>(code.value_or(ErrorCode::kInternal));
}

absl::string_view OutcomeName(int outcome) {
  if (outcome == 0) return kOk;
  return ErrorCodeName(static_cast<ErrorCode>(outcome - 1));
}

// The bucket of `value`: the first bound it does not pass, or the overflow
// bucket after the last bound.
template <typename T, size_t N>
size_t BucketOf(const T (&bounds)[N], T value) {
  return static_cast<size_t>(std::lower_bound(bounds, bounds + N, value) -
                             bounds);
}

// Nanoseconds as seconds, exactly.
std::string Seconds(uint64_t nanos) {
  return absl::StrFormat("%d.%09d", nanos / 1'000'000'000,
                         nanos % 1'000'000'000);
}

// The _bucket, _sum and _count samples of one histogram. `labels` (already
// escaped, may be empty) go before `le`.
template <typename Counts>
void AppendHistogram(std::string* out, absl::string_view name,
                     absl::string_view labels, const Counts& buckets,
                     const absl::string_view* le_labels,
                     absl::string_view sum) {
  const absl::string_view separator = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    absl::string_view le = i + 1 < buckets.size() ? le_labels[i] : "+Inf";
    absl::StrAppend(out, name, "_bucket{", labels, separator, "le=\"", le,
                    "\"} ", cumulative, "\n");
  }
  absl::StrAppend(out, name, "_sum{", labels, "} ", sum, "\n", name, "_count{",
                  labels, "} ", cumulative, "\n");
}

}  // namespace

ServerMetrics::InFlight::InFlight(std::atomic<int64_t>* gauge) : gauge_(gauge) {
  gauge_->fetch_add(1, std::memory_order_relaxed);
}

ServerMetrics::InFlight& ServerMetrics::InFlight::operator=(
    InFlight&& other) noexcept {
  if (this != &other) {
    Release();
    gauge_ = std::exchange(other.gauge_, nullptr);
  }
  return *this;
}

void ServerMetrics::InFlight::Release() {
  if (gauge_ != nullptr) {
    gauge_->fetch_sub(1, std::memory_order_relaxed);
    gauge_ = nullptr;
  }
}

ServerMetrics::ServerMetrics(std::vector<std::string> known_payload_types) {
  static_assert(std::size(kDurationBoundsNanos) == kDurationBuckets &&
                std::size(kDurationLabels) == kDurationBuckets &&
                std::size(kBatchBounds) == kBatchBuckets &&
                std::size(kBindingNames) == kBindings);
  for (std::string& type : known_payload_types) {
    if (type == kOtherPayloadType || payload_type_index_.contains(type)) {
      continue;
    }
    payload_type_index_.emplace(type, static_cast<int>(payload_types_.size()));
    payload_types_.push_back(std::move(type));
  }
  const size_t series = kBindings * (payload_types_.size() + 1) * kOutcomes;
  // `()` zero-initializes the counters.
  requests_ = std::unique_ptr<std::atomic<uint64_t>[]>(
      new std::atomic<uint64_t>[series]());
}

absl::string_view ServerMetrics::Outcome(const absl::Status& status) {
  if (status.ok()) return kOk;
  return ErrorCodeName(*ErrorCodeOf(status));
}

size_t ServerMetrics::RequestIndex(int binding, int payload_type,
                                   int outcome) const {
  return (static_cast<size_t>(binding) * (payload_types_.size() + 1) +
          static_cast<size_t>(payload_type)) *
             kOutcomes +
         static_cast<size_t>(outcome);
}

void ServerMetrics::RecordEnvelope(absl::string_view binding,
                                   absl::string_view payload_type,
                                   absl::string_view outcome,
                                   absl::Duration latency) {
  int b = BindingIndex(binding);
  if (b < 0) return;
  auto it = payload_type_index_.find(payload_type);
  int type = it != payload_type_index_.end()
                 ? it->second
                 : static_cast<int>(payload_types_.size());
  requests_[RequestIndex(b, type, OutcomeIndex(outcome))].fetch_add(
      1, std::memory_order_relaxed);

  int64_t nanos = std::max<int64_t>(0, absl::ToInt64Nanoseconds(latency));
  Histogram<kDurationBuckets>& duration = bindings_[b].duration;
  duration.buckets[BucketOf(kDurationBoundsNanos, nanos)].fetch_add(
      1, std::memory_order_relaxed);
  duration.sum.fetch_add(static_cast<uint64_t>(nanos),
                         std::memory_order_relaxed);
}

ServerMetrics::InFlight ServerMetrics::TrackCall(absl::string_view binding) {
  int b = BindingIndex(binding);
  if (b < 0) return InFlight();
  return InFlight(&bindings_[b].in_flight);
}

void ServerMetrics::RecordBatch(absl::string_view binding, size_t envelopes) {
  int b = BindingIndex(binding);
  if (b < 0) return;
  Histogram<kBatchBuckets>& batch_size = bindings_[b].batch_size;
  batch_size.buckets[BucketOf(kBatchBounds, static_cast<uint64_t>(envelopes))]
      .fetch_add(1, std::memory_order_relaxed);
  batch_size.sum.fetch_add(envelopes, std::memory_order_relaxed);
}

void ServerMetrics::RecordBytes(absl::string_view binding, Direction direction,
                                size_t wire_bytes, size_t decoded_bytes) {
  int b = BindingIndex(binding);
  if (b < 0) return;
  auto& bytes = bindings_[b].bytes[direction == Direction::kIn ? 0 : 1];
  bytes[0].fetch_add(wire_bytes, std::memory_order_relaxed);
  bytes[1].fetch_add(decoded_bytes, std::memory_order_relaxed);
}

std::string ServerMetrics::RenderPrometheus() const {
  std::string out;
  std::string binding_labels[kBindings];
  for (int b = 0; b < kBindings; ++b) {
    binding_labels[b] = absl::StrCat("binding=\"", kBindingNames[b], "\"");
  }

  AppendPrometheusHeader(
      "asap_requests_total", "counter",
      "Envelopes handled, by binding, payload type and outcome "
      "(ok or the ASAP error code).",
      &out);
  const int payload_types = static_cast<int>(payload_types_.size()) + 1;
  for (int b = 0; b < kBindings; ++b) {
    for (int type = 0; type < payload_types; ++type) {
      for (int outcome = 0; outcome < kOutcomes; ++outcome) {
        uint64_t count = requests_[RequestIndex(b, type, outcome)].load(
            std::memory_order_relaxed);
        if (count == 0) continue;
        absl::string_view type_name =
            type < payload_types - 1 ? payload_types_[type] : kOtherPayloadType;
        absl::StrAppend(&out, "asap_requests_total{", binding_labels[b],
                        ",payload_type=\"", PrometheusLabelValue(type_name),
                        "\",outcome=\"", OutcomeName(outcome), "\"} ", count,
                        "\n");
      }
    }
  }

  // Histograms are read bucket by bucket and _count is their total, so each
  // is consistent even while envelopes are being recorded.
  AppendPrometheusHeader(
      "asap_request_duration_seconds", "histogram",
      "Time from a request's arrival to its response being ready, "
      "per envelope.",
      &out);
  for (int b = 0; b < kBindings; ++b) {
    const Histogram<kDurationBuckets>& duration = bindings_[b].duration;
    std::array<uint64_t, kDurationBuckets + 1> counts;
    for (size_t i = 0; i < counts.size(); ++i) {
      counts[i] = duration.buckets[i].load(std::memory_order_relaxed);
    }
    AppendHistogram(&out, "asap_request_duration_seconds", binding_labels[b],
                    counts, kDurationLabels,
                    Seconds(duration.sum.load(std::memory_order_relaxed)));
  }

  AppendPrometheusHeader("asap_calls_in_flight", "gauge",
                         "Calls (unary calls and batch streams) being served.",
                         &out);
  for (int b = 0; b < kBindings; ++b) {
    absl::StrAppend(&out, "asap_calls_in_flight{", binding_labels[b], "} ",
                    bindings_[b].in_flight.load(std::memory_order_relaxed),
                    "\n");
  }

  AppendPrometheusHeader("asap_batch_size", "histogram",
                         "Envelopes per batch call.", &out);
  std::string batch_labels[kBatchBuckets];
  absl::string_view batch_label_views[kBatchBuckets];
  for (int i = 0; i < kBatchBuckets; ++i) {
    batch_labels[i] = absl::StrCat(kBatchBounds[i]);
    batch_label_views[i] = batch_labels[i];
  }
  for (int b = 0; b < kBindings; ++b) {
    const Histogram<kBatchBuckets>& batch_size = bindings_[b].batch_size;
    std::array<uint64_t, kBatchBuckets + 1> counts;
    for (size_t i = 0; i < counts.size(); ++i) {
      counts[i] = batch_size.buckets[i].load(std::memory_order_relaxed);
    }
    AppendHistogram(
        &out, "asap_batch_size", binding_labels[b], counts, batch_label_views,
        absl::StrCat(batch_size.sum.load(std::memory_order_relaxed)));
  }

  constexpr absl::string_view kDirections[] = {"in", "out"};
  constexpr absl::string_view kStageNames[] = {"asap_wire_bytes_total",
                                               "asap_decoded_bytes_total"};
  constexpr absl::string_view kStageHelp[] = {
      "Bytes of request (in) and response (out) bodies as they travel, "
      "compressed when they are.",
      "Bytes of request (in) and response (out) bodies decoded: after "
      "decompression, before compression."};
  for (int stage = 0; stage < 2; ++stage) {
    AppendPrometheusHeader(kStageNames[stage], "counter", kStageHelp[stage],
                           &out);
    for (int b = 0; b < kBindings; ++b) {
      for (int direction = 0; direction < 2; ++direction) {
        absl::StrAppend(&out, kStageNames[stage], "{", binding_labels[b],
                        ",direction=\"", kDirections[direction], "\"} ",
                        bindings_[b].bytes[direction][stage].load(
                            std::memory_order_relaxed),
                        "\n");
      }
    }
  }
  ConnectionCounts connections;
  std::function<StateCounts()> state;
  {
    absl::MutexLock lock(&source_mu_);
    connections = http_connections_;
    state = state_;
  }
  if (state) {
    const StateCounts counts = state();
    AppendPrometheusHeader(
        "asap_idempotency_hits_total", "counter",
        "Envelopes answered from the idempotency store, their "
        "handler not run again.",
        &out);
    absl::StrAppend(&out, "asap_idempotency_hits_total ",
                    counts.idempotency_hits, "\n");
    AppendPrometheusHeader(
        "asap_idempotency_claim_renewals_total", "counter",
        "Renewals of the idempotency claims of handlers still "
        "running.",
        &out);
    absl::StrAppend(&out, "asap_idempotency_claim_renewals_total ",
                    counts.claim_renewals, "\n");
    AppendPrometheusHeader(
        "asap_idempotency_claims_lost_total", "counter",
        "Claims of running handlers that ran out before they could "
        "be renewed (a retry may run the envelope again).",
        &out);
    absl::StrAppend(&out, "asap_idempotency_claims_lost_total ",
                    counts.claims_lost, "\n");
    AppendPrometheusHeader("asap_state_store_errors_total", "counter",
                           "Failed commands to a shared state store.", &out);
    absl::StrAppend(&out, "asap_state_store_errors_total{store=\"replay\"} ",
                    counts.replay_errors, "\n",
                    "asap_state_store_errors_total{store=\"idempotency\"} ",
                    counts.idempotency_errors, "\n");
    AppendPrometheusHeader(
        "asap_state_store_fallbacks_total", "counter",
        "Operations a fail-open store answered from its local "
        "fallback.",
        &out);
    absl::StrAppend(&out, "asap_state_store_fallbacks_total{store=\"replay\"} ",
                    counts.replay_fallbacks, "\n",
                    "asap_state_store_fallbacks_total{store=\"idempotency\"} ",
                    counts.idempotency_fallbacks, "\n");
  }
  if (connections) {
    const auto [accepted, open] = connections();
    AppendPrometheusHeader("asap_http_connections_accepted_total", "counter",
                           "TCP connections the HTTP binding accepted.", &out);
    absl::StrAppend(&out, "asap_http_connections_accepted_total ", accepted,
                    "\n");
    AppendPrometheusHeader("asap_http_connections_open", "gauge",
                           "TCP connections of the HTTP binding open now.",
                           &out);
    absl::StrAppend(&out, "asap_http_connections_open ", open, "\n");
  }
  return out;
}

void ServerMetrics::SetHttpConnectionSource(ConnectionCounts source) {
  absl::MutexLock lock(&source_mu_);
  http_connections_ = std::move(source);
}

void ServerMetrics::SetStateSource(std::function<StateCounts()> source) {
  absl::MutexLock lock(&source_mu_);
  state_ = std::move(source);
}

}  // namespace asap
