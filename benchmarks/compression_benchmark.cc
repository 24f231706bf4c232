// Compression (plan task 4.2): a 1 MB JSON payload of realistic, varied agent
// data, generated deterministically, sent for real (Send round trip through a
// byte-counting loopback relay) with none, gzip and brotli; plus codec
// throughput on the same data.
#include <random>
#include <string>
#include <vector>

#include "asap/compression/codec.h"
#include "asap/envelope.h"
#include "asap/json.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/registry.h"
#include "benchmarks/relay/byte_counting_relay.h"
#include "client/asap_client.h"

namespace asap::bench {
namespace {

constexpr const char* kVocabulary[] = {
    "agent",      "protocol",    "latency",    "throughput",  "cluster",
    "research",   "summary",     "language",   "model",       "retrieval",
    "context",    "window",      "token",      "budget",      "schedule",
    "pipeline",   "dataset",     "evaluation", "benchmark",   "regression",
    "baseline",   "variance",    "median",     "sample",      "network",
    "packet",     "stream",      "buffer",     "compression", "ratio",
    "manifest",   "capability",  "skill",      "endpoint",    "envelope",
    "payload",    "correlation", "trace",      "nonce",       "replay",
    "timestamp",  "validation",  "the",        "a",           "of",
    "and",        "to",          "in",         "for",         "with",
    "on",         "by",          "from",       "is",          "was",
    "were",       "has",         "have",       "this",        "that",
    "which",      "their",       "quickly",    "slowly",      "carefully",
    "robust",     "noisy",       "stable",     "new",         "distributed",
    "concurrent", "parallel",    "sequential", "adaptive",    "market",
    "energy",     "climate",     "policy",     "health",      "finance",
    "supply",     "chain",       "logistics",  "inventory",   "forecast",
    "demand",     "price",       "customer",   "report",      "analysis",
    "insight",    "trend",       "growth",     "risk",        "Berlin",
    "Tokyo",      "Nairobi",     "Lima",       "Oslo",        "Chennai",
    "Toronto",    "quarterly",   "annual",     "weekly",      "estimated",
    "observed",   "projected"};
constexpr int kVocabularySize = sizeof(kVocabulary) / sizeof(kVocabulary[0]);

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}
  std::string Words(int min, int max) {
    int n = min + static_cast<int>(rng_() % (max - min + 1));
    std::string out;
    for (int i = 0; i < n; ++i) {
      if (i) out += ' ';
      out += kVocabulary[rng_() % kVocabularySize];
    }
    return out;
  }
  std::string Hex(int n) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < n; ++i) out += kHex[rng_() % 16];
    return out;
  }
  double Number(double scale) { return (rng_() % 1000000) / 1000000.0 * scale; }
  int Int(int max) { return static_cast<int>(rng_() % max); }

 private:
  std::mt19937 rng_;
};

// A research agent's result set: documents with ids, titles, urls, authors,
// scores, dates, tags, abstracts and nested metrics, until the JSON form
// reaches `bytes`.
google::protobuf::Struct AgentData(size_t bytes) {
  Generator g(2026);
  google::protobuf::Struct data;
  auto& fields = *data.mutable_fields();
  fields["query"].set_string_value(g.Words(4, 8));
  fields["generated_by"].set_string_value("urn:asap:agent:research-v1");
  google::protobuf::ListValue* documents =
      fields["documents"].mutable_list_value();
  size_t size = 0;
  while (size < bytes) {
    google::protobuf::Struct* doc =
        documents->add_values()->mutable_struct_value();
    auto& d = *doc->mutable_fields();
    d["id"].set_string_value("doc-" + g.Hex(12));
    d["title"].set_string_value(g.Words(5, 12));
    d["url"].set_string_value("https://example.org/" + g.Hex(8) + "/" +
                              g.Words(1, 1));
    d["score"].set_number_value(g.Number(1.0));
    d["published"].set_string_value(
        absl::StrCat(2000 + g.Int(26), "-", 1 + g.Int(12), "-", 1 + g.Int(28)));
    auto* authors = d["authors"].mutable_list_value();
    for (int i = 0, n = 1 + g.Int(4); i < n; ++i) {
      authors->add_values()->set_string_value(g.Words(2, 2));
    }
    auto* tags = d["tags"].mutable_list_value();
    for (int i = 0, n = g.Int(5); i < n; ++i) {
      tags->add_values()->set_string_value(g.Words(1, 1));
    }
    d["abstract"].set_string_value(g.Words(30, 90));
    auto& metrics = *d["metrics"].mutable_struct_value()->mutable_fields();
    metrics["citations"].set_number_value(g.Int(5000));
    metrics["reads"].set_number_value(g.Int(100000));
    metrics["relevance"].set_number_value(g.Number(100));
    size += 400 + d["abstract"].string_value().size();  // rough; checked below
    if (documents->values_size() % 64 == 0) size = ToJson(data).size();
  }
  return data;
}

v1::Envelope BigRequest() {
  v1::Envelope envelope = TaskRequest();
  *(*envelope.mutable_payload()->mutable_fields())["input"]
       .mutable_struct_value() = AgentData(1 << 20);
  return envelope;
}

// The wire: one Send of the 1 MB envelope through a byte-counting relay.
void BM_CompressionOnTheWire(benchmark::State& state, std::string algorithm) {
  static const v1::Envelope* request = new v1::Envelope(BigRequest());
  EchoServer& echo = SharedEchoServer();
  auto relay = *ByteCountingRelay::Start("127.0.0.1", echo.server->port());
  ClientOptions options;
  options.target = relay->address();
  options.timeout = absl::Seconds(60);
  options.compression.algorithm = algorithm;
  auto client = *AsapClient::Create(options);
  (void)client->GetManifest();  // connect outside the measurement
  uint64_t up = 0, down = 0, rounds = 0, failures = 0;
  for (auto _ : state) {
    relay->Reset();
    v1::Envelope envelope = *request;
    FillEnvelopeDefaults(&envelope, absl::Now());
    failures += !client->Send(std::move(envelope)).ok();
    up += relay->client_to_server_bytes();
    down += relay->server_to_client_bytes();
    ++rounds;
  }
  size_t json = ToJson(request->payload()).size();
  state.counters["payload_json_bytes"] = json;
  state.counters["envelope_bytes"] = request->ByteSizeLong();
  state.counters["wire_up_bytes"] = double(up) / rounds;
  state.counters["wire_down_bytes"] = double(down) / rounds;
  state.counters["failures"] = failures;
}

// Codec throughput and ratio on the 1 MB JSON text itself.
void BM_CodecOnJson(benchmark::State& state, std::string algorithm, int level) {
  static const std::string* json = new std::string(ToJson(AgentData(1 << 20)));
  const CompressionCodec* codec = *FindCodec(algorithm);
  std::string compressed;
  absl::Duration compress_time, decompress_time;
  int64_t rounds = 0;
  for (auto _ : state) {
    absl::Time t0 = absl::Now();
    compressed = *codec->Compress(*json, level);
    absl::Time t1 = absl::Now();
    benchmark::DoNotOptimize(codec->Decompress(compressed, 16 << 20));
    absl::Time t2 = absl::Now();
    compress_time += t1 - t0;
    decompress_time += t2 - t1;
    ++rounds;
  }
  double mb = json->size() / 1e6;
  state.counters["json_bytes"] = json->size();
  state.counters["compressed_bytes"] = compressed.size();
  state.counters["reduction_pct"] =
      100.0 * (1.0 - double(compressed.size()) / json->size());
  state.counters["compress_MBps"] =
      mb * rounds / absl::ToDoubleSeconds(compress_time);
  state.counters["decompress_MBps"] =
      mb * rounds / absl::ToDoubleSeconds(decompress_time);
}

}  // namespace

void RegisterCompressionBenchmarks(bool full) {
  int rounds = full ? 20 : 3;
  for (const char* algorithm : {"none", "gzip", "br"}) {
    benchmark::RegisterBenchmark(
        (std::string("BM_CompressionOnTheWire/") + algorithm).c_str(),
        BM_CompressionOnTheWire, std::string(algorithm))
        ->Iterations(rounds)
        ->Unit(benchmark::kMillisecond);
  }
  // The defaults (-1: gzip 6, brotli 5), then the slower, smaller levels.
  for (auto [algorithm, level] : std::vector<std::pair<std::string, int>>{
           {"gzip", -1}, {"br", -1}, {"gzip", 9}, {"br", 9}, {"br", 11}}) {
    benchmark::RegisterBenchmark(
        ("BM_CodecOnJson/" + algorithm + "/level:" + std::to_string(level))
            .c_str(),
        BM_CodecOnJson, algorithm, level)
        ->Iterations(level == 11 ? 1 : rounds)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace asap::bench
