// ServerMetrics: counting, histogram math, bounded labels, the exposition
// format, and what an AsapServer records for gRPC calls end to end.
#include "server/metrics.h"

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "asap/errors.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// One sample line: name{labels} value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

// Parses `line` as a sample of the text format 0.0.4 (no timestamp), or
// records a test failure and returns false.
bool ParseSample(absl::string_view line, Sample* sample) {
  size_t i = 0;
  auto is_name_char = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == ':' || (!first && c >= '0' && c <= '9');
  };
  while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
  if (i == 0) {
    ADD_FAILURE() << "no metric name: " << line;
    return false;
  }
  sample->name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t start = i;
      while (i < line.size() && is_name_char(line[i], i == start)) ++i;
      std::string label(line.substr(start, i - start));
      if (label.empty() || line.substr(i, 2) != "=\"") {
        ADD_FAILURE() << "bad label at " << i << ": " << line;
        return false;
      }
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          if (i + 1 >= line.size()) break;
          char escaped = line[i + 1];
          if (escaped == 'n') {
            value += '\n';
          } else if (escaped == '\\' || escaped == '"') {
            value += escaped;
          } else {
            ADD_FAILURE() << "bad escape in: " << line;
            return false;
          }
          i += 2;
        } else {
          value += line[i++];
        }
      }
      if (i >= line.size()) {
        ADD_FAILURE() << "unterminated label value: " << line;
        return false;
      }
      ++i;  // closing quote
      if (!sample->labels.emplace(label, value).second) {
        ADD_FAILURE() << "duplicate label " << label << ": " << line;
        return false;
      }
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) {
      ADD_FAILURE() << "unterminated labels: " << line;
      return false;
    }
    ++i;  // closing brace
  }
  if (i >= line.size() || line[i] != ' ') {
    ADD_FAILURE() << "no space before the value: " << line;
    return false;
  }
  absl::string_view value = line.substr(i + 1);
  if (!absl::SimpleAtod(value, &sample->value)) {
    ADD_FAILURE() << "bad value '" << value << "': " << line;
    return false;
  }
  return true;
}

// The samples of `text`, after checking it is valid exposition format: every
// line a comment or a sample, one TYPE per metric before its samples, and
// every histogram's buckets cumulative, ending in +Inf equal to _count.
std::vector<Sample> ParseExposition(absl::string_view text) {
  std::vector<Sample> samples;
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  std::map<std::string, std::string> types;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::vector<std::string> parts =
          absl::StrSplit(line, absl::MaxSplits(' ', 3));
      if (parts.size() >= 3 && parts[1] == "TYPE") {
        EXPECT_EQ(parts.size(), 4u) << line;
        EXPECT_THAT(parts[3], ::testing::AnyOf("counter", "gauge", "histogram",
                                               "summary", "untyped"));
        EXPECT_TRUE(types.emplace(parts[2], parts.back()).second)
            << "second TYPE for " << parts[2];
      } else if (parts.size() >= 3 && parts[1] == "HELP") {
        EXPECT_EQ(types.count(parts[2]), 0u) << "HELP after TYPE: " << line;
      }
      continue;
    }
    Sample sample;
    if (!ParseSample(line, &sample)) continue;
    samples.push_back(sample);
  }

  // Histogram series: family + labels other than le -> buckets, _count.
  struct Series {
    std::vector<std::pair<std::string, double>> buckets;
    double count = -1;
  };
  std::map<std::string, Series> histograms;
  for (const Sample& sample : samples) {
    std::string family = sample.name;
    std::string suffix;
    for (absl::string_view s : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(sample.name, s) &&
          types.count(sample.name.substr(0, sample.name.size() - s.size())) &&
          types[sample.name.substr(0, sample.name.size() - s.size())] ==
              "histogram") {
        family = sample.name.substr(0, sample.name.size() - s.size());
        suffix = std::string(s);
      }
    }
    EXPECT_EQ(types.count(family), 1u) << "sample before TYPE: " << sample.name;
    if (types[family] != "histogram") {
      EXPECT_TRUE(suffix.empty());
      continue;
    }
    EXPECT_FALSE(suffix.empty()) << sample.name;
    std::map<std::string, std::string> labels = sample.labels;
    std::string le = labels["le"];
    labels.erase("le");
    std::string key = family;
    for (const auto& [name, value] : labels) {
      absl::StrAppend(&key, ",", name, "=", value);
    }
    if (suffix == "_bucket") {
      EXPECT_FALSE(le.empty()) << "bucket without le";
      histograms[key].buckets.emplace_back(le, sample.value);
    } else if (suffix == "_count") {
      histograms[key].count = sample.value;
    }
  }
  for (const auto& [key, series] : histograms) {
    if (series.buckets.empty()) {
      ADD_FAILURE() << "no buckets: " << key;
      continue;
    }
    double previous_bound = -1;
    double previous_count = 0;
    for (const auto& [le, count] : series.buckets) {
      double bound;
      if (le == "+Inf") {
        bound = 1e300;
      } else {
        EXPECT_TRUE(absl::SimpleAtod(le, &bound)) << le;
      }
      EXPECT_GT(bound, previous_bound) << key << " le=" << le;
      EXPECT_GE(count, previous_count) << key << " le=" << le;
      previous_bound = bound;
      previous_count = count;
    }
    EXPECT_EQ(series.buckets.back().first, "+Inf") << key;
    EXPECT_EQ(series.buckets.back().second, series.count) << key;
  }
  return samples;
}

// The value of the sample `name` with exactly `labels`; -1 when absent.
double Value(const std::vector<Sample>& samples, absl::string_view name,
             const std::map<std::string, std::string>& labels) {
  for (const Sample& sample : samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return -1;
}

double Value(absl::string_view text, absl::string_view name,
             const std::map<std::string, std::string>& labels) {
  return Value(ParseExposition(text), name, labels);
}

int CountSamples(const std::vector<Sample>& samples, absl::string_view name) {
  int count = 0;
  for (const Sample& sample : samples) count += sample.name == name;
  return count;
}

TEST(ServerMetricsTest, CountsEnvelopesByBindingPayloadTypeAndOutcome) {
  ServerMetrics metrics({"task.request", "task.cancel"});
  metrics.RecordEnvelope("grpc", "task.request", "ok", absl::Milliseconds(1));
  metrics.RecordEnvelope("grpc", "task.request", "ok", absl::Milliseconds(1));
  metrics.RecordEnvelope("http", "task.request", "ok", absl::Milliseconds(1));
  metrics.RecordEnvelope("grpc", "task.cancel",
                         "asap:transport/handler_not_found",
                         absl::Milliseconds(1));
  std::vector<Sample> samples = ParseExposition(metrics.RenderPrometheus());
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "task.request"},
                   {"outcome", "ok"}}),
            2);
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "http"},
                   {"payload_type", "task.request"},
                   {"outcome", "ok"}}),
            1);
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "task.cancel"},
                   {"outcome", "asap:transport/handler_not_found"}}),
            1);
  // Only series that were recorded.
  EXPECT_EQ(CountSamples(samples, "asap_requests_total"), 3);
  EXPECT_EQ(Value(samples, "asap_request_duration_seconds_count",
                  {{"binding", "grpc"}}),
            3);
  EXPECT_EQ(Value(samples, "asap_request_duration_seconds_count",
                  {{"binding", "http"}}),
            1);
}

TEST(ServerMetricsTest, OutcomeIsOkOrTheAsapErrorCode) {
  EXPECT_EQ(ServerMetrics::Outcome(absl::OkStatus()), "ok");
  EXPECT_EQ(ServerMetrics::Outcome(AsapError(ErrorCode::kInvalidNonce, "x")),
            "asap:protocol/invalid_nonce");
  EXPECT_EQ(ServerMetrics::Outcome(absl::UnavailableError("down")),
            "asap:transport/unavailable");
}

TEST(ServerMetricsTest, UnknownOutcomeCountsAsInternalError) {
  ServerMetrics metrics({});
  metrics.RecordEnvelope("grpc", "x", "weird \"outcome\"",
                         absl::ZeroDuration());
  EXPECT_EQ(Value(metrics.RenderPrometheus(), "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "other"},
                   {"outcome", "asap:internal/error"}}),
            1);
}

TEST(ServerMetricsTest, UnknownBindingIsIgnored) {
  ServerMetrics metrics({"task.request"});
  metrics.RecordEnvelope("smtp", "task.request", "ok", absl::Seconds(1));
  metrics.RecordBatch("smtp", 3);
  metrics.RecordBytes("smtp", ServerMetrics::Direction::kIn, 10, 10);
  ServerMetrics::InFlight call = metrics.TrackCall("smtp");
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, Not(HasSubstr("smtp")));
  std::vector<Sample> samples = ParseExposition(text);
  EXPECT_EQ(CountSamples(samples, "asap_requests_total"), 0);
  for (const Sample& sample : samples)
    EXPECT_EQ(sample.value, 0) << sample.name;
}

TEST(ServerMetricsTest,
     DurationHistogramBucketsAreCumulativeWithInclusiveBounds) {
  ServerMetrics metrics({});
  metrics.RecordEnvelope("grpc", "", "ok", absl::Microseconds(50));
  metrics.RecordEnvelope("grpc", "", "ok",
                         absl::Microseconds(100));  // le=.0001
  metrics.RecordEnvelope("grpc", "", "ok", absl::Microseconds(101));
  metrics.RecordEnvelope("grpc", "", "ok", absl::Milliseconds(3));
  metrics.RecordEnvelope("grpc", "", "ok", absl::Seconds(20));
  metrics.RecordEnvelope("grpc", "", "ok", -absl::Seconds(1));  // counts as 0
  std::vector<Sample> samples = ParseExposition(metrics.RenderPrometheus());
  auto bucket = [&](const std::string& le) {
    return Value(samples, "asap_request_duration_seconds_bucket",
                 {{"binding", "grpc"}, {"le", le}});
  };
  EXPECT_EQ(bucket("0.0001"), 3);
  EXPECT_EQ(bucket("0.00025"), 4);
  EXPECT_EQ(bucket("0.0025"), 4);
  EXPECT_EQ(bucket("0.005"), 5);
  EXPECT_EQ(bucket("10"), 5);
  EXPECT_EQ(bucket("+Inf"), 6);
  EXPECT_EQ(CountSamples(samples, "asap_request_duration_seconds_bucket"),
            2 * 17);
  EXPECT_THAT(metrics.RenderPrometheus(),
              HasSubstr("asap_request_duration_seconds_sum{binding=\"grpc\"} "
                        "20.003251000\n"));
  EXPECT_EQ(Value(samples, "asap_request_duration_seconds_count",
                  {{"binding", "grpc"}}),
            6);
}

TEST(ServerMetricsTest, BatchSizeHistogram) {
  ServerMetrics metrics({});
  for (size_t size : {1, 2, 3, 100, 101, 20000})
    metrics.RecordBatch("http", size);
  std::vector<Sample> samples = ParseExposition(metrics.RenderPrometheus());
  auto bucket = [&](const std::string& le) {
    return Value(samples, "asap_batch_size_bucket",
                 {{"binding", "http"}, {"le", le}});
  };
  EXPECT_EQ(bucket("1"), 1);
  EXPECT_EQ(bucket("2"), 2);
  EXPECT_EQ(bucket("5"), 3);
  EXPECT_EQ(bucket("100"), 4);
  EXPECT_EQ(bucket("200"), 5);
  EXPECT_EQ(bucket("10000"), 5);
  EXPECT_EQ(bucket("+Inf"), 6);
  EXPECT_EQ(Value(samples, "asap_batch_size_sum", {{"binding", "http"}}),
            20207);
  EXPECT_EQ(Value(samples, "asap_batch_size_count", {{"binding", "http"}}), 6);
  EXPECT_EQ(Value(samples, "asap_batch_size_count", {{"binding", "grpc"}}), 0);
}

TEST(ServerMetricsTest, HostilePayloadTypesShareOneOtherSeries) {
  ServerMetrics metrics({"task.request"});
  for (int i = 0; i < 10000; ++i) {
    metrics.RecordEnvelope(
        "http", absl::StrCat("evil\"}\n", i, std::string(i % 50, '\\')), "ok",
        absl::ZeroDuration());
  }
  std::string text = metrics.RenderPrometheus();
  EXPECT_LT(text.size(), 20000u);
  std::vector<Sample> samples = ParseExposition(text);
  EXPECT_EQ(CountSamples(samples, "asap_requests_total"), 1);
  EXPECT_EQ(
      Value(
          samples, "asap_requests_total",
          {{"binding", "http"}, {"payload_type", "other"}, {"outcome", "ok"}}),
      10000);
}

TEST(ServerMetricsTest, EscapesLabelValues) {
  const std::string odd = "a\"b\\c\nd";
  ServerMetrics metrics({odd, "other", odd});  // "other" and duplicates ignored
  metrics.RecordEnvelope("grpc", odd, "ok", absl::ZeroDuration());
  metrics.RecordEnvelope("grpc", "other", "ok", absl::ZeroDuration());
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("payload_type=\"a\\\"b\\\\c\\nd\""));
  std::vector<Sample> samples = ParseExposition(text);
  EXPECT_EQ(
      Value(samples, "asap_requests_total",
            {{"binding", "grpc"}, {"payload_type", odd}, {"outcome", "ok"}}),
      1);
  EXPECT_EQ(
      Value(
          samples, "asap_requests_total",
          {{"binding", "grpc"}, {"payload_type", "other"}, {"outcome", "ok"}}),
      1);
  EXPECT_EQ(CountSamples(samples, "asap_requests_total"), 2);
}

TEST(ServerMetricsTest, InFlightGaugeFollowsTheTrackers) {
  ServerMetrics metrics({});
  auto in_flight = [&](const std::string& binding) {
    return Value(metrics.RenderPrometheus(), "asap_calls_in_flight",
                 {{"binding", binding}});
  };
  EXPECT_EQ(in_flight("grpc"), 0);
  {
    ServerMetrics::InFlight a = metrics.TrackCall("grpc");
    ServerMetrics::InFlight b = metrics.TrackCall("grpc");
    ServerMetrics::InFlight c = metrics.TrackCall("http");
    EXPECT_EQ(in_flight("grpc"), 2);
    EXPECT_EQ(in_flight("http"), 1);
    ServerMetrics::InFlight moved = std::move(a);
    EXPECT_EQ(in_flight("grpc"), 2);
    b = std::move(moved);  // b's own call ends
    EXPECT_EQ(in_flight("grpc"), 1);
    c.Release();
    c.Release();
    EXPECT_EQ(in_flight("http"), 0);
  }
  EXPECT_EQ(in_flight("grpc"), 0);
}

TEST(ServerMetricsTest, CountsWireAndDecodedBytes) {
  ServerMetrics metrics({});
  metrics.RecordBytes("grpc", ServerMetrics::Direction::kIn, 100, 400);
  metrics.RecordBytes("grpc", ServerMetrics::Direction::kIn, 50, 50);
  metrics.RecordBytes("grpc", ServerMetrics::Direction::kOut, 7, 9);
  std::vector<Sample> samples = ParseExposition(metrics.RenderPrometheus());
  EXPECT_EQ(Value(samples, "asap_wire_bytes_total",
                  {{"binding", "grpc"}, {"direction", "in"}}),
            150);
  EXPECT_EQ(Value(samples, "asap_decoded_bytes_total",
                  {{"binding", "grpc"}, {"direction", "in"}}),
            450);
  EXPECT_EQ(Value(samples, "asap_wire_bytes_total",
                  {{"binding", "grpc"}, {"direction", "out"}}),
            7);
  EXPECT_EQ(Value(samples, "asap_decoded_bytes_total",
                  {{"binding", "grpc"}, {"direction", "out"}}),
            9);
  EXPECT_EQ(Value(samples, "asap_wire_bytes_total",
                  {{"binding", "http"}, {"direction", "in"}}),
            0);
}

TEST(ServerMetricsTest, ConcurrentRecordingGivesExactTotals) {
  ServerMetrics metrics({"task.request"});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::atomic<bool> done{false};
  // Rendering while recording must always give a valid, consistent text.
  std::thread renderer([&] {
    while (!done.load()) ParseExposition(metrics.RenderPrometheus());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ServerMetrics::InFlight call = metrics.TrackCall("grpc");
        metrics.RecordEnvelope("grpc", i % 2 ? "task.request" : "junk", "ok",
                               absl::Microseconds(i % 1000));
        metrics.RecordBatch("http", 1 + t);
        metrics.RecordBytes("grpc", ServerMetrics::Direction::kIn, 1, 2);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  renderer.join();
  std::vector<Sample> samples = ParseExposition(metrics.RenderPrometheus());
  constexpr int kTotal = kThreads * kPerThread;
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "task.request"},
                   {"outcome", "ok"}}),
            kTotal / 2);
  EXPECT_EQ(
      Value(
          samples, "asap_requests_total",
          {{"binding", "grpc"}, {"payload_type", "other"}, {"outcome", "ok"}}),
      kTotal / 2);
  EXPECT_EQ(Value(samples, "asap_request_duration_seconds_count",
                  {{"binding", "grpc"}}),
            kTotal);
  // Each thread's latencies add up to 20 x (0 + 1 + ... + 999) us.
  constexpr int64_t kTotalMicros = int64_t{kThreads} * 20 * 499500;
  EXPECT_THAT(metrics.RenderPrometheus(),
              HasSubstr(absl::StrFormat(
                  "asap_request_duration_seconds_sum{binding=\"grpc\"} "
                  "%d.%06d000\n",
                  kTotalMicros / 1000000, kTotalMicros % 1000000)));
  EXPECT_EQ(Value(samples, "asap_batch_size_count", {{"binding", "http"}}),
            kTotal);
  EXPECT_EQ(Value(samples, "asap_batch_size_sum", {{"binding", "http"}}),
            kPerThread * (1 + 2 + 3 + 4));
  EXPECT_EQ(Value(samples, "asap_calls_in_flight", {{"binding", "grpc"}}), 0);
  EXPECT_EQ(Value(samples, "asap_decoded_bytes_total",
                  {{"binding", "grpc"}, {"direction", "in"}}),
            2 * kTotal);
}

// End to end: what a server records for gRPC calls.

std::unique_ptr<AsapClient> ClientFor(const AsapServer& server) {
  ClientOptions options;
  options.target = server.address();
  options.timeout = absl::Seconds(10);
  options.validate_before_send = false;
  return *AsapClient::Create(options);
}

// The server's metrics once `name{labels}` reaches `value` (some are recorded
// after the client already has its answer), or after 5 s.
std::vector<Sample> AwaitMetric(
    const AsapServer& server, absl::string_view name,
    const std::map<std::string, std::string>& labels, double value) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (true) {
    std::vector<Sample> samples = ParseExposition(server.MetricsText());
    if (Value(samples, name, labels) == value || absl::Now() > deadline) {
      return samples;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

TEST(ServerMetricsEndToEndTest, GrpcSendsAndBatchesAreRecorded) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->Send(asap::testing::EchoRequest("hello")).ok());
  }
  // Large enough to go as SendCompressed (brotli), and compressible.
  ASSERT_TRUE(
      client->Send(asap::testing::EchoRequest(std::string(20000, 'a'))).ok());
  v1::Envelope unknown = asap::testing::EchoRequest("x");
  unknown.set_payload_type("custom.unknown");
  absl::StatusOr<v1::Envelope> failed = client->Send(unknown);
  ASSERT_FALSE(failed.ok());
  ASSERT_EQ(ErrorCodeOf(failed.status()), ErrorCode::kHandlerNotFound);
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(asap::testing::EchoRequest("b"));
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(std::move(batch));
  ASSERT_TRUE(results.ok()) << results.status();
  for (const auto& result : *results)
    ASSERT_TRUE(result.ok()) << result.status();

  std::vector<Sample> samples =
      AwaitMetric(*server, "asap_batch_size_count", {{"binding", "grpc"}}, 1);
  samples =
      AwaitMetric(*server, "asap_calls_in_flight", {{"binding", "grpc"}}, 0);
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "task.request"},
                   {"outcome", "ok"}}),
            3 + 1 + 5);
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "other"},
                   {"outcome", "asap:transport/handler_not_found"}}),
            1);
  EXPECT_EQ(CountSamples(samples, "asap_requests_total"), 2);
  EXPECT_EQ(Value(samples, "asap_request_duration_seconds_count",
                  {{"binding", "grpc"}}),
            10);
  EXPECT_EQ(Value(samples, "asap_batch_size_count", {{"binding", "grpc"}}), 1);
  EXPECT_EQ(Value(samples, "asap_batch_size_sum", {{"binding", "grpc"}}), 5);
  EXPECT_EQ(Value(samples, "asap_calls_in_flight", {{"binding", "grpc"}}), 0);
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "http"},
                   {"payload_type", "task.request"},
                   {"outcome", "ok"}}),
            -1);
  // The compressed request travelled smaller than it decoded to.
  double wire_in = Value(samples, "asap_wire_bytes_total",
                         {{"binding", "grpc"}, {"direction", "in"}});
  double decoded_in = Value(samples, "asap_decoded_bytes_total",
                            {{"binding", "grpc"}, {"direction", "in"}});
  EXPECT_GT(decoded_in, wire_in + 15000);
  EXPECT_GT(wire_in, 0);
  double wire_out = Value(samples, "asap_wire_bytes_total",
                          {{"binding", "grpc"}, {"direction", "out"}});
  double decoded_out = Value(samples, "asap_decoded_bytes_total",
                             {{"binding", "grpc"}, {"direction", "out"}});
  EXPECT_GT(wire_out, 0);
  EXPECT_GT(decoded_out, wire_out + 15000);  // the large echo, compressed
}

TEST(ServerMetricsEndToEndTest, UnreadableRequestCountsAsOther) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(server->address(),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // Not an Envelope: a field 1 of wire type 7 (invalid).
  grpc::ClientContext context;
  grpc::Slice slice(std::string("\x0f\xff\xff", 3));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/asap.v1.AsapService/Send", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<Sample> samples = ParseExposition(server->MetricsText());
  EXPECT_EQ(Value(samples, "asap_requests_total",
                  {{"binding", "grpc"},
                   {"payload_type", "other"},
                   {"outcome", "asap:protocol/malformed_envelope"}}),
            1);
  EXPECT_EQ(Value(samples, "asap_wire_bytes_total",
                  {{"binding", "grpc"}, {"direction", "in"}}),
            3);
}

}  // namespace
}  // namespace asap
