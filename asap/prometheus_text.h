// Pieces of Prometheus' text exposition format (version 0.0.4) that the
// server's metrics (server/metrics.h) and the client's (client/
// client_metrics.h) both write.
//
//   std::string out;
//   asap::AppendPrometheusHeader("asap_calls_total", "counter",
//                                "Calls answered.", &out);
//   absl::StrAppend(&out, "asap_calls_total{target=\"",
//                   asap::PrometheusLabelValue(target), "\"} ", calls, "\n");
#ifndef ASAP_PROMETHEUS_TEXT_H_
#define ASAP_PROMETHEUS_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace asap {

// `value` as a label value goes between the double quotes: backslash,
// double quote and line feed escaped (the only escapes the format has);
// every other byte as it is.
std::string PrometheusLabelValue(absl::string_view value);

// Appends the "# HELP" and "# TYPE" lines of metric `name` to `out`. `help`
// goes out as it is: it must hold no line feed or backslash.
void AppendPrometheusHeader(absl::string_view name, absl::string_view type,
                            absl::string_view help, std::string* out);

}  // namespace asap

#endif  // ASAP_PROMETHEUS_TEXT_H_
