// The counters of an AsapClient in Prometheus' text exposition format, for
// an application that serves its own /metrics: retries (and the retries the
// budget refused), SendBatch resumes, the connection pool, the manifest
// cache and, for HTTP targets, the HTTP requests and retries.
//
//   asap_client_retries_total{target}                    counter
//   asap_client_rate_limit_retries_total{target}         counter
//   asap_client_retry_budget_refusals_total{target}      counter
//   asap_client_batch_resumes_total{target}              counter
//   asap_client_batch_envelopes_resent_total{target}     counter
//   asap_client_pool_connections_open{target}            gauge
//   asap_client_pool_waits_total{target}                 counter
//   asap_client_pool_timeouts_total{target}              counter
//   asap_client_manifest_cache_hits_total{target}        counter
//   asap_client_manifest_cache_misses_total{target}      counter
//   asap_client_http_requests_total{target}              counter (HTTP)
//   asap_client_http_retries_total{target}               counter (HTTP)
//
// `target` is ClientOptions::target. Several clients' texts can be
// concatenated under one set of HELP/TYPE lines by passing
// `with_headers = false` for all but the first.
#ifndef ASAP_CLIENT_CLIENT_METRICS_H_
#define ASAP_CLIENT_CLIENT_METRICS_H_

#include <string>

#include "client/asap_client.h"

namespace asap {

std::string ClientMetricsText(const AsapClient& client,
                              bool with_headers = true);

}  // namespace asap

#endif  // ASAP_CLIENT_CLIENT_METRICS_H_
