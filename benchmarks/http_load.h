// Load generators for ASAP's HTTP binding (POST /asap, JSON-RPC asap.send),
// used by //benchmarks:http_benchmark:
// - RunHttp1Load: N HTTP/1.1 keep-alive connections (Boost.Beast), each doing
//   one request after the other.
// - RunH2cLoad: one HTTP/2 cleartext connection (prior knowledge, nghttp2's
//   client session over an Asio socket) with N concurrent streams.
// Both run on one thread of their own and check every answer: HTTP 200 and a
// body holding a JSON-RPC "result"; anything else is counted as an error.
//
//   HttpLoadOptions options;
//   options.host = "127.0.0.1";
//   options.port = 8080;
//   options.envelope_json = asap::ToJson(envelope);
//   LoadResult result = RunHttp1Load(options);
//   result.PerSecond(); result.errors; ...
#ifndef ASAP_BENCHMARKS_HTTP_LOAD_H_
#define ASAP_BENCHMARKS_HTTP_LOAD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace asap::bench {

// What one load run measured.
struct LoadResult {
  // Successful requests that completed inside the measured window.
  int64_t ok = 0;
  // Failed requests of the whole run (warm-up, window and drain): a
  // benchmark must not hide an error because it came early.
  int64_t errors = 0;
  // Every request that completed or failed, warm-up and drain included.
  int64_t completed = 0;
  // Length of the measured window.
  absl::Duration window;
  // Latency of each request counted in `ok`.
  std::vector<absl::Duration> latencies;
  // Errors by kind ("http 503", "no result", "read: end of stream", ...).
  std::map<std::string, int64_t> error_kinds;
  // The first error in full (with the start of its body), for the report.
  std::string first_error;

  double PerSecond() const;
  // "http 503=3 timeout=1", or "" without errors.
  std::string ErrorKindsText() const;
};

// Collects the outcome of the requests of one run: a warm-up (requests
// complete but are not counted), then the measured window, then no new
// requests. Thread-safe.
class LoadRecorder {
 public:
  // The run starts now.
  LoadRecorder(absl::Duration warmup, absl::Duration window);

  // Whether a new request may start at `now` (before the window's end).
  bool Accepting(absl::Time now) const { return now < stop_; }
  absl::Time stop() const { return stop_; }

  // A request started at `start` and answered correctly at `end`.
  void Ok(absl::Time start, absl::Time end);
  // A request failed; `kind` groups errors, `detail` describes this one.
  void Error(absl::string_view kind, absl::string_view detail);

  LoadResult Finish();

 private:
  const absl::Time measure_from_;
  const absl::Time stop_;
  absl::Mutex mu_;
  LoadResult result_ ABSL_GUARDED_BY(mu_);
};

struct HttpLoadOptions {
  // Numeric address of the HTTP listener.
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/asap";
  // HTTP/1.1: connections, each with one request at a time.
  int connections = 64;
  // h2c: concurrent streams on the one connection.
  int streams = 64;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration window = absl::Seconds(5);
  // A request unanswered after this fails ("timeout").
  absl::Duration request_timeout = absl::Seconds(20);
  // params.envelope of every request (ASAP JSON).
  std::string envelope_json;
};

LoadResult RunHttp1Load(const HttpLoadOptions& options);
LoadResult RunH2cLoad(const HttpLoadOptions& options);

// {"jsonrpc":"2.0","method":"asap.send","id":ID,"params":{"envelope":...}}
std::string JsonRpcSendBody(absl::string_view envelope_json, int64_t id);

// Whether an answer is a success: HTTP 200 and a JSON-RPC "result" member.
bool IsJsonRpcResult(int http_status, absl::string_view body);

// One HTTP/1.1 POST of `body` to host:port`path` (a sanity check outside the
// load); returns "" when it is answered with a result, else what went wrong.
std::string CheckOnePost(const std::string& host, int port,
                         const std::string& path, const std::string& body);

// The p-th percentile (0-100) of `samples`, in microseconds; 0 when empty.
double PercentileUs(std::vector<absl::Duration> samples, double p);

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_HTTP_LOAD_H_
