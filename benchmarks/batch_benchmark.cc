// Batch operations, against real servers on loopback:
// - 100 envelopes: 100 sequential Send calls vs one SendBatch, same run;
// - 10 000 envelopes: SendBatch vs a plain gRPC bidirectional stream written
//   without asap (one envelope per message, a reader and a writer thread, a
//   server that answers each with the echo handler and no validation).
#include <grpcpp/grpcpp.h>

#include <thread>
#include <vector>

#include "asap/envelope.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/raw_echo.grpc.pb.h"
#include "benchmarks/registry.h"
#include "client/asap_client.h"
#include "tests/testing/echo_requests.h"

namespace asap::bench {
namespace {

std::vector<v1::Envelope> Envelopes(int n) {
  std::vector<v1::Envelope> envelopes;
  envelopes.reserve(n);
  absl::Time now = absl::Now();
  for (int i = 0; i < n; ++i) {
    envelopes.push_back(TaskRequest("envelope number " + std::to_string(i)));
    FillEnvelopeDefaults(&envelopes.back(), now);
  }
  return envelopes;
}

std::unique_ptr<AsapClient> NewClient() {
  ClientOptions options;
  options.target = SharedEchoServer().address();
  options.timeout = absl::Seconds(120);
  return *AsapClient::Create(options);
}

// Sends one batch, adds its duration to `*total`, returns the failed envelopes.
int64_t TimedBatch(AsapClient* client, std::vector<v1::Envelope> envelopes,
                   absl::Duration* total) {
  int64_t n = envelopes.size();
  absl::Time start = absl::Now();
  auto results = client->SendBatch(std::move(envelopes));
  *total += absl::Now() - start;
  if (!results.ok()) return n;
  int64_t failures = 0;
  for (const auto& r : *results) failures += !r.ok();
  return failures;
}

// Counters for `envelopes` sent by the baseline in `baseline` and by
// SendBatch in `batch`: both rates and batch / baseline.
void ReportVersusBaseline(benchmark::State& state, int64_t envelopes,
                          const char* baseline_name, absl::Duration baseline,
                          absl::Duration batch, const char* ratio_name,
                          int64_t failures) {
  double baseline_eps = envelopes / absl::ToDoubleSeconds(baseline);
  double batch_eps = envelopes / absl::ToDoubleSeconds(batch);
  state.counters[baseline_name] = baseline_eps;
  state.counters["batch_eps"] = batch_eps;
  state.counters[ratio_name] = batch_eps / baseline_eps;
  state.counters["failures"] = failures;
}

void BM_SequentialVsBatch(benchmark::State& state) {
  const int n = state.range(0);
  auto client = NewClient();
  (void)client->Send(TaskRequest());  // connect
  absl::Duration sequential, batch;
  int64_t rounds = 0, failures = 0;
  for (auto _ : state) {
    std::vector<v1::Envelope> envelopes = Envelopes(n);
    absl::Time t0 = absl::Now();
    for (const v1::Envelope& e : envelopes) {
      if (!client->Send(e).ok()) ++failures;
    }
    sequential += absl::Now() - t0;
    failures += TimedBatch(client.get(), Envelopes(n), &batch);
    ++rounds;
  }
  ReportVersusBaseline(state, n * rounds, "sequential_eps", sequential, batch,
                       "speedup", failures);
}

// SendBatch alone, for profiling: one batch of `n` per iteration.
void BM_SendBatch(benchmark::State& state) {
  const int n = state.range(0);
  auto client = NewClient();
  (void)client->Send(TaskRequest());
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::Envelope> envelopes = Envelopes(n);
    state.ResumeTiming();
    benchmark::DoNotOptimize(client->SendBatch(std::move(envelopes)));
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// A plain gRPC server for RawEcho.Stream.
class RawEchoService final : public RawEcho::Service {
 public:
  grpc::Status Unary(grpc::ServerContext* context, const v1::Envelope* request,
                     v1::Envelope* response) override {
    absl::StatusOr<v1::Envelope> echoed =
        asap::EchoTask(*request, asap::EchoManifest("raw"));
    *response = *std::move(echoed);
    response->set_correlation_id(request->id());
    return grpc::Status::OK;
  }

  grpc::Status Stream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::Envelope, v1::Envelope>* stream) override {
    v1::Manifest manifest = asap::EchoManifest("raw");
    v1::Envelope request;
    while (stream->Read(&request)) {
      absl::StatusOr<v1::Envelope> response = asap::EchoTask(request, manifest);
      response->set_correlation_id(request.id());
      if (!stream->Write(*response)) break;
    }
    return grpc::Status::OK;
  }
};

struct RawServer {
  RawEchoService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

RawServer& SharedRawServer() {
  static RawServer* raw = [] {
    auto* r = new RawServer;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &r->port);
    builder.RegisterService(&r->service);
    r->server = builder.BuildAndStart();
    return r;
  }();
  return *raw;
}

// The stream a user would write without asap: a writer thread sends every
// envelope as its own message, the caller reads the answers.
int RawStream(RawEcho::Stub* stub, const std::vector<v1::Envelope>& envelopes) {
  grpc::ClientContext context;
  auto stream = stub->Stream(&context);
  std::thread writer([&] {
    for (const v1::Envelope& e : envelopes) {
      if (!stream->Write(e)) break;
    }
    stream->WritesDone();
  });
  v1::Envelope response;
  int received = 0;
  while (stream->Read(&response)) ++received;
  writer.join();
  stream->Finish();
  return received;
}

// One call at a time: asap's Send (client validation, pool, interceptor,
// server validation, dispatch) next to a plain generated stub calling a plain
// gRPC server that runs the same echo handler.
void BM_UnaryAsapVsRaw(benchmark::State& state) {
  auto client = NewClient();
  (void)client->Send(TaskRequest());
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(SharedRawServer().port),
                          grpc::InsecureChannelCredentials());
  auto raw_stub = RawEcho::NewStub(channel);
  std::vector<absl::Duration> asap_latency, raw_latency;
  int64_t failures = 0;
  for (auto _ : state) {
    v1::Envelope request = TaskRequest();
    FillEnvelopeDefaults(&request, absl::Now());
    absl::Time t0 = absl::Now();
    failures += !client->Send(request).ok();
    absl::Time t1 = absl::Now();
    grpc::ClientContext context;
    v1::Envelope response;
    failures += !raw_stub->Unary(&context, request, &response).ok();
    absl::Time t2 = absl::Now();
    asap_latency.push_back(t1 - t0);
    raw_latency.push_back(t2 - t1);
  }
  state.counters["asap_p50_us"] = PercentileMicros(asap_latency, 50);
  state.counters["raw_p50_us"] = PercentileMicros(raw_latency, 50);
  state.counters["asap_p99_us"] = PercentileMicros(asap_latency, 99);
  state.counters["raw_p99_us"] = PercentileMicros(raw_latency, 99);
  state.counters["failures"] = failures;
}

void BM_BatchVsRawStream(benchmark::State& state) {
  const int n = state.range(0);
  auto client = NewClient();
  (void)client->Send(TaskRequest());
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(SharedRawServer().port),
                          grpc::InsecureChannelCredentials());
  auto raw_stub = RawEcho::NewStub(channel);
  absl::Duration batch, raw;
  int64_t rounds = 0, failures = 0;
  for (auto _ : state) {
    std::vector<v1::Envelope> envelopes = Envelopes(n);
    absl::Time t0 = absl::Now();
    failures += n - RawStream(raw_stub.get(), envelopes);
    absl::Time t1 = absl::Now();
    failures += TimedBatch(client.get(), std::move(envelopes), &batch);
    raw += t1 - t0;
    ++rounds;
  }
  ReportVersusBaseline(state, n * rounds, "raw_stream_eps", raw, batch, "ratio",
                       failures);
}

}  // namespace

void RegisterBatchBenchmarks(bool full) {
  benchmark::RegisterBenchmark("BM_SendBatch", BM_SendBatch)
      ->Arg(100)
      ->Arg(10000)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_UnaryAsapVsRaw", BM_UnaryAsapVsRaw)
      ->Iterations(full ? 2000 : 200)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_SequentialVsBatch", BM_SequentialVsBatch)
      ->Arg(100)
      ->Iterations(full ? 50 : 5)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_BatchVsRawStream", BM_BatchVsRawStream)
      ->Arg(10000)
      ->Iterations(full ? 10 : 2)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace asap::bench
