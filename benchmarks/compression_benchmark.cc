// Compression: a 1 MB JSON payload of realistic, varied agent data, generated
// deterministically, sent for real (Send round trip through a byte-counting
// loopback relay) with none, gzip and brotli; plus codec throughput on the
// same data.
#include <random>
#include <string>
#include <vector>

#include "asap/compression/codec.h"
#include "asap/envelope.h"
#include "asap/json.h"
#include "benchmark/benchmark.h"
#include "benchmarks/agent_data.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/registry.h"
#include "benchmarks/relay/byte_counting_relay.h"
#include "client/asap_client.h"

namespace asap::bench {
namespace {

v1::Envelope BigRequest() {
  v1::Envelope envelope = TaskRequest();
  *(*envelope.mutable_payload()->mutable_fields())["input"]
       .mutable_struct_value() = AgentData(1 << 20);
  return envelope;
}

// The wire: one Send of the 1 MB envelope through a byte-counting relay.
void BM_CompressionOnTheWire(benchmark::State& state, Compression algorithm) {
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
  // Named "none", "gzip", "br", as the results in docs/ are.
  for (Compression algorithm :
       {Compression::kNone, Compression::kGzip, Compression::kBrotli}) {
    const std::string name = algorithm == Compression::kNone
                                 ? "none"
                                 : std::string(CompressionName(algorithm));
    benchmark::RegisterBenchmark(("BM_CompressionOnTheWire/" + name).c_str(),
                                 BM_CompressionOnTheWire, algorithm)
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
