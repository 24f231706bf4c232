#include "client/client_metrics.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "asap/prometheus_text.h"

namespace asap {
namespace {

class Writer {
 public:
  Writer(std::string target, bool with_headers)
      : label_(
            absl::StrCat("{target=\"", PrometheusLabelValue(target), "\"} ")),
        with_headers_(with_headers) {}

  void Add(const char* name, const char* type, const char* help,
           uint64_t value) {
    if (with_headers_) AppendPrometheusHeader(name, type, help, &out_);
    absl::StrAppend(&out_, name, label_, value, "\n");
  }

  std::string Take() { return std::move(out_); }

 private:
  const std::string label_;
  const bool with_headers_;
  std::string out_;
};

}  // namespace

std::string ClientMetricsText(const AsapClient& client, bool with_headers) {
  Writer w(client.options().target, with_headers);
  const AsapClient::RetryStats retry = client.retry_stats();
  w.Add("asap_client_retries_total", "counter",
        "Calls sent again after UNAVAILABLE (same envelope id).",
        retry.retries);
  w.Add("asap_client_rate_limit_retries_total", "counter",
        "Calls sent again after asap:transport/rate_limited.",
        retry.rate_limit_retries);
  w.Add("asap_client_retry_budget_refusals_total", "counter",
        "Retryable failures not retried: the retry budget was spent.",
        retry.budget_refusals);
  w.Add("asap_client_batch_resumes_total", "counter",
        "SendBatch streams resumed on a new stream after UNAVAILABLE.",
        retry.batch_resumes);
  w.Add("asap_client_batch_envelopes_resent_total", "counter",
        "Envelopes without a result sent again by resumed SendBatch calls.",
        retry.batch_envelopes_resent);
  const ChannelPool::Stats pool = client.pool_stats();
  w.Add("asap_client_pool_connections_open", "gauge",
        "Connections (channels) open in the pool.",
        static_cast<uint64_t>(pool.open_connections));
  w.Add("asap_client_pool_waits_total", "counter",
        "Calls that waited for pool capacity.", pool.waits);
  w.Add("asap_client_pool_timeouts_total", "counter",
        "Calls that failed with pool_exhausted after pool_timeout.",
        pool.timeouts);
  ManifestCache::Stats cache;
  if (client.manifest_cache() != nullptr) {
    cache = client.manifest_cache()->stats();
  }
  w.Add("asap_client_manifest_cache_hits_total", "counter",
        "Manifest lookups answered from the cache.", cache.hits);
  w.Add("asap_client_manifest_cache_misses_total", "counter",
        "Manifest lookups that found no fresh entry.", cache.misses);
  const AsapClient::HttpStats http = client.http_stats();
  w.Add("asap_client_http_requests_total", "counter",
        "HTTP requests answered, retries included (HTTP targets).",
        http.requests);
  w.Add("asap_client_http_retries_total", "counter",
        "HTTP requests sent again (HTTP targets).", http.retries);
  return w.Take();
}

}  // namespace asap
