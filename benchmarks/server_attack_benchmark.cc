// Abuse cases of //benchmarks:server_benchmark, each against a fresh echo
// agent child process so that one case's damage (stuck threads, a grown heap)
// does not leak into another's figures:
// - BM_BatchUnderAttack: a victim's SendBatch(100) latency, first alone, then
//   while an attacker holds a SendBatch stream open that has sent 20 frames of
//   100 envelopes of 40 KB each and never reads a result (80 MB of results:
//   the server's writes to it stall).
// - BM_LargeListPeakRss: the server's peak RSS while 8 clients at once send
//   envelopes of ~10 MB (just under the server's message limit) whose payload
//   is a list of 5 million empty values: a few bytes each on the wire, tens
//   of bytes each once parsed.
// Both run with per-call deadlines and time budgets: they must report, not
// hang, whatever the server does.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/envelope.h"
#include "asap/v1/service.grpc.pb.h"
#include "benchmark/benchmark.h"
#include "benchmarks/bench_support.h"
#include "benchmarks/server_benchmark.h"
#include "client/asap_client.h"
#include "google/protobuf/struct.pb.h"
#include "tests/testing/echo_requests.h"

namespace asap::bench {
namespace {

// The victim's own goal: under attack, its p50 and p99 stay within this
// factor of what they are without the attacker.
constexpr double kAttackRatioGoal = 2.0;
// A victim batch normally takes milliseconds; a stuck one is cut off here.
constexpr absl::Duration kVictimDeadline = absl::Seconds(10);
// No new victim batch starts after this much time in one phase.
constexpr absl::Duration kVictimPhaseBudget = absl::Seconds(12);
constexpr int kAttackFrames = 20;
constexpr int kEnvelopesPerFrame = 100;
// Each attacker envelope carries this much text, so that its unread results
// (20 x 100 x 40 KB = 80 MB) are far more than its connection's HTTP/2
// receive window: the server's writes to it really stall.
constexpr size_t kAttackTextBytes = 40 * 1024;

std::unique_ptr<ServerProcess> FreshAsapServer(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = StartAsapServer();
  if (!server.ok()) {
    state.SkipWithError(server.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(server);
}

// Victim batches of one phase. A failed batch counts with the time it took
// to fail (at most the deadline), so a starved victim shows in p50/p99.
struct VictimStats {
  std::vector<absl::Duration> latencies;
  int64_t failed = 0;
  std::map<std::string, int64_t> failure_codes;

  double P50() const { return PercentileMicros(latencies, 50); }
  double P99() const { return PercentileMicros(latencies, 99); }
  std::string Describe() const {
    std::string text =
        absl::StrCat("p50 ", FormatMicros(P50()), " p99 ", FormatMicros(P99()));
    if (failed > 0) {
      std::vector<std::string> codes;
      for (const auto& [code, n] : failure_codes) {
        codes.push_back(absl::StrCat(code, "=", n));
      }
      absl::StrAppend(&text, ", ", failed, "/", latencies.size(), " failed (",
                      absl::StrJoin(codes, " "), ")");
    }
    return text;
  }
};

VictimStats RunVictim(AsapClient* client, int rounds) {
  BatchOptions options;
  options.timeout = kVictimDeadline;
  VictimStats stats;
  absl::Time stop_starting = absl::Now() + kVictimPhaseBudget;
  for (int i = 0; i < rounds && absl::Now() < stop_starting; ++i) {
    std::vector<v1::Envelope> envelopes = FreshEnvelopes(kEnvelopesPerFrame);
    absl::Time start = absl::Now();
    absl::StatusOr<AsapClient::BatchResults> results =
        client->SendBatch(std::move(envelopes), options);
    stats.latencies.push_back(absl::Now() - start);
    absl::Status failure = results.status();
    if (results.ok()) {
      for (const auto& result : *results) {
        if (!result.ok()) {
          failure = result.status();
          break;
        }
      }
    }
    if (!failure.ok()) {
      ++stats.failed;
      ++stats.failure_codes[absl::StatusCodeToString(failure.code())];
    }
  }
  return stats;
}

// Opens a SendBatch stream on a connection of its own, writes frames of valid
// envelopes and never reads a result, until Stop().
class BatchAttacker {
 public:
  explicit BatchAttacker(const std::string& address)
      : stub_(v1::AsapService::NewStub(NewChannel(address))) {}
  ~BatchAttacker() { Stop(); }

  void Start() {
    // Stop() cancels the stream long before this; it only bounds a mistake.
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(2)));
    thread_ = std::thread([this] {
      auto stream = stub_->SendBatch(&context_);
      const std::string text(kAttackTextBytes, 'x');
      for (int i = 0; i < kAttackFrames; ++i) {
        v1::BatchFrame frame;
        for (int e = 0; e < kEnvelopesPerFrame; ++e) {
          v1::Envelope* envelope = frame.add_envelopes();
          *envelope =
              asap::testing::EchoRequest(text, "urn:asap:agent:attacker");
          FillEnvelopeDefaults(envelope, absl::Now());
        }
        // Blocks once the server stops reading; TryCancel releases it.
        if (!stream->Write(frame)) break;
        frames_written_.fetch_add(1);
      }
      stop_.WaitForNotification();
      grpc::Status status = stream->Finish();
      absl::MutexLock lock(&mu_);
      final_status_ = status;
    });
  }

  // Waits until every frame is written or `timeout` passes; returns the
  // frames written so far.
  int WaitForFrames(absl::Duration timeout) {
    absl::Time give_up = absl::Now() + timeout;
    while (frames_written_.load() < kAttackFrames && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return frames_written_.load();
  }

  // Cancels the stream and joins the attacker's thread. Returns how the
  // stream ended.
  grpc::Status Stop() {
    if (thread_.joinable()) {
      context_.TryCancel();
      stop_.Notify();
      thread_.join();
    }
    absl::MutexLock lock(&mu_);
    return final_status_;
  }

  int frames_written() const { return frames_written_.load(); }

 private:
  std::unique_ptr<v1::AsapService::Stub> stub_;
  grpc::ClientContext context_;
  std::thread thread_;
  std::atomic<int> frames_written_{0};
  absl::Notification stop_;
  absl::Mutex mu_;
  grpc::Status final_status_;
};

void BM_BatchUnderAttack(benchmark::State& state) {
  const int rounds = state.range(0);
  std::unique_ptr<ServerProcess> server = FreshAsapServer(state);
  if (server == nullptr) return;
  ClientOptions options;
  options.target = server->address();
  options.timeout = kCallDeadline;
  absl::StatusOr<std::unique_ptr<AsapClient>> victim =
      AsapClient::Create(options);
  if (!victim.ok()) {
    state.SkipWithError(victim.status().ToString().c_str());
    return;
  }
  (void)(*victim)->SendBatch(FreshEnvelopes(kEnvelopesPerFrame));  // connect

  VictimStats quiet, attacked;
  int frames_written = 0;
  for (auto _ : state) {
    quiet = RunVictim(victim->get(), rounds);
    BatchAttacker attacker(server->address());
    attacker.Start();
    frames_written = attacker.WaitForFrames(absl::Seconds(2));
    absl::SleepFor(absl::Milliseconds(200));  // let the server act on them
    attacked = RunVictim(victim->get(), rounds);
    attacker.Stop();
  }
  std::string server_state;
  if (!server->Running(&server_state)) {
    server_state = absl::StrCat("server died: ", server_state);
  }

  double p50_ratio = quiet.P50() > 0 ? attacked.P50() / quiet.P50() : 0;
  double p99_ratio = quiet.P99() > 0 ? attacked.P99() / quiet.P99() : 0;
  state.counters["quiet_p50_us"] = quiet.P50();
  state.counters["quiet_p99_us"] = quiet.P99();
  state.counters["attack_p50_us"] = attacked.P50();
  state.counters["attack_p99_us"] = attacked.P99();
  state.counters["attack_p50_ratio"] = p50_ratio;
  state.counters["attack_p99_ratio"] = p99_ratio;
  state.counters["victim_batches"] = attacked.latencies.size();
  state.counters["victim_failed"] = quiet.failed + attacked.failed;
  state.counters["attack_frames_written"] = frames_written;
  bool met = attacked.failed == 0 && quiet.failed == 0 &&
             p50_ratio <= kAttackRatioGoal && p99_ratio <= kAttackRatioGoal;
  AddSummaryRow(
      {"SendBatch(100), attacker never reads",
       absl::StrCat("attacked ", attacked.Describe()),
       absl::StrCat("alone ", quiet.Describe()),
       absl::StrFormat("p50 %.2fx p99 %.2fx", p50_ratio, p99_ratio),
       absl::StrFormat("<= %.0fx: %s (attacker wrote %d/%d frames%s%s)",
                       kAttackRatioGoal, Verdict(met), frames_written,
                       kAttackFrames, server_state.empty() ? "" : "; ",
                       server_state)});
}

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Appends length-delimited field `field` holding `bytes` (protobuf wire
// format).
void AppendBytesField(int field, const std::string& bytes, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | 2, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes);
}

// The serialized payload (google.protobuf.Struct) of an echo request whose
// input is {"items": [`elements` values]}. The list is written as wire bytes
// directly: building it as a message would cost the client the very memory
// the case measures on the server. Each item is an empty Value, 2 bytes on
// the wire, the smallest a list element can be.
std::string LargeListPayload(int elements) {
  std::string list;  // ListValue: field 1 (values), repeated
  list.reserve(2 * static_cast<size_t>(elements));
  for (int i = 0; i < elements; ++i) list.append("\x0a\x00", 2);
  std::string items;  // Value{list_value = 6}
  AppendBytesField(6, list, &items);
  list = std::string();
  std::string items_entry;  // Struct.fields map entry: key 1, value 2
  AppendBytesField(1, "items", &items_entry);
  AppendBytesField(2, items, &items_entry);
  items = std::string();
  std::string input_struct;
  AppendBytesField(1, items_entry, &input_struct);
  items_entry = std::string();
  std::string input;  // Value{struct_value = 5}
  AppendBytesField(5, input_struct, &input);
  input_struct = std::string();
  std::string input_entry;
  AppendBytesField(1, "input", &input_entry);
  AppendBytesField(2, input, &input_entry);
  input = std::string();

  google::protobuf::Struct rest = TaskRequest("").payload();
  rest.mutable_fields()->erase("input");
  std::string payload = rest.SerializeAsString();
  AppendBytesField(1, input_entry, &payload);
  return payload;
}

// The start of a serialized echo request (its own id and timestamp) up to
// and including the tag and length of its payload, `payload_bytes` long:
// head + payload is the whole envelope.
std::string EnvelopeHead(size_t payload_bytes) {
  v1::Envelope envelope = TaskRequest("");
  FillEnvelopeDefaults(&envelope, absl::Now());
  envelope.clear_payload();
  std::string head = envelope.SerializeAsString();
  AppendVarint((7 << 3) | 2, &head);  // Envelope.payload
  AppendVarint(payload_bytes, &head);
  return head;
}

// The wire bytes above must parse into a valid echo request; checked on a
// small list so that the check costs nothing.
absl::Status CheckLargeListEncoding() {
  std::string payload = LargeListPayload(3);
  v1::Envelope envelope;
  if (!envelope.ParseFromString(EnvelopeHead(payload.size()) + payload)) {
    return absl::InternalError("large-list envelope does not parse");
  }
  const auto& fields = envelope.payload().fields();
  auto input = fields.find("input");
  if (input == fields.end() || input->second.struct_value()
                                       .fields()
                                       .at("items")
                                       .list_value()
                                       .values_size() != 3) {
    return absl::InternalError("large-list envelope has no 3-item list");
  }
  return ValidateEnvelope(envelope, absl::Now());
}

struct LargeCallStats {
  absl::Mutex mu;
  std::map<std::string, int64_t> codes;
  std::vector<absl::Duration> latencies;
};

// One client: its own connection, `sends` calls one after another, each the
// shared payload behind a head of its own (new id and timestamp).
void LargeListClient(const std::string& address, const grpc::Slice& payload,
                     int sends, LargeCallStats* stats) {
  grpc::GenericStub stub(NewChannel(address));
  for (int i = 0; i < sends; ++i) {
    grpc::Slice slices[2] = {grpc::Slice(EnvelopeHead(payload.size())),
                             payload};
    grpc::ByteBuffer request(slices, 2);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    absl::Notification done;
    grpc::Status status;
    absl::Time start = absl::Now();
    stub.UnaryCall(&context, "/asap.v1.AsapService/Send", grpc::StubOptions(),
                   &request, &response, [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    absl::Duration took = absl::Now() - start;
    absl::MutexLock lock(&stats->mu);
    ++stats->codes[absl::StatusCodeToString(
        static_cast<absl::StatusCode>(status.error_code()))];
    stats->latencies.push_back(took);
  }
}

void BM_LargeListPeakRss(benchmark::State& state) {
  const int clients = state.range(0);
  const int sends_per_client = state.range(1);
  const int elements = state.range(2);
  if (absl::Status check = CheckLargeListEncoding(); !check.ok()) {
    state.SkipWithError(check.ToString().c_str());
    return;
  }
  std::unique_ptr<ServerProcess> server = FreshAsapServer(state);
  if (server == nullptr) return;
  // The payload is shared by every call (a reference-counted slice): client
  // memory stays ~10 MB however many calls run.
  std::string payload_bytes = LargeListPayload(elements);
  const size_t envelope_bytes =
      EnvelopeHead(payload_bytes.size()).size() + payload_bytes.size();
  grpc::Slice payload(payload_bytes);
  payload_bytes = std::string();
  const int64_t start_rss = server->PeakRssBytes().value_or(0);

  // VmHWM is the figure reported; sampling VmRSS as well shows whether the
  // memory stays taken after the calls.
  std::atomic<bool> sampling{true};
  std::atomic<int64_t> max_sampled_rss{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      int64_t rss = server->RssBytes().value_or(0);
      if (rss > max_sampled_rss.load()) max_sampled_rss.store(rss);
      absl::SleepFor(absl::Milliseconds(20));
    }
  });

  LargeCallStats stats;
  absl::Duration elapsed;
  for (auto _ : state) {
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back(LargeListClient, server->address(), payload,
                           sends_per_client, &stats);
    }
    for (std::thread& t : threads) t.join();
    elapsed = absl::Now() - start;
  }
  absl::StatusOr<int64_t> peak = server->PeakRssBytes();
  absl::SleepFor(absl::Milliseconds(200));
  int64_t rss_after = server->RssBytes().value_or(0);
  sampling.store(false);
  sampler.join();
  std::string server_state;
  if (!server->Running(&server_state)) {
    server_state = absl::StrCat("server died: ", server_state);
  }

  constexpr double kMiB = 1024.0 * 1024.0;
  absl::MutexLock lock(&stats.mu);
  state.counters["envelope_mib"] = envelope_bytes / kMiB;
  state.counters["start_rss_mib"] = start_rss / kMiB;
  state.counters["peak_rss_mib"] = peak.value_or(0) / kMiB;
  state.counters["rss_after_mib"] = rss_after / kMiB;
  state.counters["calls"] = stats.latencies.size();
  state.counters["ok"] = stats.codes["OK"];
  state.counters["resource_exhausted"] = stats.codes["RESOURCE_EXHAUSTED"];
  state.counters["max_call_ms"] = PercentileMicros(stats.latencies, 100) / 1e3;
  std::vector<std::string> codes;
  for (const auto& [code, n] : stats.codes) {
    if (n > 0) codes.push_back(absl::StrCat(code, "=", n));
  }
  AddSummaryRow(
      {absl::StrFormat("%d clients x %.1f MiB, %dM-item list", clients,
                       envelope_bytes / kMiB, elements / 1000000),
       peak.ok()
           ? absl::StrFormat("peak RSS %.0f MiB (from %.0f MiB, %.0f MiB "
                             "after)",
                             *peak / kMiB, start_rss / kMiB, rss_after / kMiB)
           : absl::StrFormat("peak RSS unknown (%s; max sampled %.0f MiB)",
                             server_state, max_sampled_rss.load() / kMiB),
       absl::StrCat(stats.latencies.size(), " calls in ",
                    FormatMicros(absl::ToDoubleMicroseconds(elapsed))),
       absl::StrJoin(codes, " "),
       absl::StrCat("report only", server_state.empty() ? "" : "; ",
                    server_state)});
}

}  // namespace

void RegisterAttackBenchmarks(bool full) {
  benchmark::RegisterBenchmark("BM_BatchUnderAttack", BM_BatchUnderAttack)
      ->Arg(full ? 300 : 100)
      ->ArgName("rounds")
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_LargeListPeakRss", BM_LargeListPeakRss)
      ->ArgNames({"clients", "sends", "items"})
      ->Args({8, full ? 3 : 1, 5000000})
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace asap::bench
