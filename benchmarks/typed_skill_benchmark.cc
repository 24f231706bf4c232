// The cost of typed skills (asap/skills/): a SkillRouter skill against a
// hand-written handler that reads and writes the payload Struct itself and
// does the same work (sum a list of int64s, echo a label, check an enum).
//
//   bazel run -c opt //benchmarks:typed_skill_benchmark
//
// Three layers, each typed form next to its baseline in the same run:
// - BM_Decode / BM_Encode: the conversion alone, Struct -> message and
//   message -> Struct, by the JSON-text path (protobuf's JSON mapping) and
//   by the direct walk; arg 0 is the skill's SumRequest (16 values), arg 1 a
//   message with every kind of field (skill_corpus.h).
// - BM_Handler: one task.request handled in process, no network.
// - BM_EndToEnd: one Send over gRPC to an in-process AsapServer on
//   127.0.0.1, one call at a time (latency per call).
// Each typed layer is measured as a SkillRouter skill and as the agent
// protoc-gen-asap generates from sum_agent.proto (SumAgent::Service, a
// virtual method behind the same router); BM_EndToEnd_GeneratedClient also
// uses the generated client (SumAgent::Client: the request encoded and the
// result decoded on the client side too), against the hand-written handler
// called with a hand-built envelope.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "asap/skills/struct_codec.h"
#include "asap/skills/typed_skill.h"
#include "benchmarks/sum_agent.asap.h"
#include "client/asap_client.h"
#include "google/protobuf/util/json_util.h"
#include "server/asap_server.h"
#include "server/echo_skill.h"
#include "tests/asap/skills/skill_corpus.h"
#include "tests/asap/skills/testdata/skill_types.pb.h"

namespace asap::skills {
namespace {

using test::skills::SumRequest;
using test::skills::SumResponse;

constexpr int kValues = 16;

absl::StatusOr<SumResponse> TypedSum(const HandlerContext&,
                                     const SumRequest& request) {
  SumResponse response;
  int64_t total = 0;
  for (int64_t value : request.values()) total += value;
  response.set_total(total);
  response.set_label(request.label());
  response.set_count(request.values_size());
  return response;
}

absl::Status Malformed(absl::string_view what) {
  return AsapError(ErrorCode::kMalformedEnvelope, what);
}

// What a careful hand-written handler does for the same skill: the checks
// the typed path makes (types, int64 as string or number, the enum name,
// unknown fields), on the Struct directly.
absl::StatusOr<v1::Envelope> StructSum(const v1::Envelope& request,
                                       const HandlerContext&) {
  const auto& payload = request.payload().fields();
  auto skill = payload.find("skill_id");
  if (skill == payload.end() || skill->second.string_value() != "sum") {
    return AsapError(ErrorCode::kHandlerNotFound, "no such skill");
  }
  auto input = payload.find("input");
  if (input == payload.end() || !input->second.has_struct_value()) {
    return Malformed("input: expected an object");
  }
  int64_t total = 0;
  int count = 0;
  std::string label;
  for (const auto& [key, value] : input->second.struct_value().fields()) {
    if (key == "values") {
      if (!value.has_list_value()) return Malformed("input.values: array");
      for (const auto& item : value.list_value().values()) {
        int64_t number;
        if (item.has_string_value()) {
          if (!absl::SimpleAtoi(item.string_value(), &number)) {
            return Malformed("input.values: integer");
          }
        } else if (item.has_number_value() &&
                   item.number_value() ==
                       static_cast<int64_t>(item.number_value())) {
          number = static_cast<int64_t>(item.number_value());
        } else {
          return Malformed("input.values: integer");
        }
        total += number;
        ++count;
      }
    } else if (key == "label") {
      if (!value.has_string_value()) return Malformed("input.label: string");
      label = value.string_value();
    } else if (key == "color") {
      if (!value.has_string_value() ||
          !test::skills::Color_IsValid(
              test::skills::Color_descriptor()
                  ->FindValueByName(value.string_value())
                  ->number())) {
        return Malformed("input.color: a Color");
      }
    } else {
      return Malformed("input: unknown field");
    }
  }
  v1::Envelope response;
  response.set_payload_type("task.response");
  auto& fields = *response.mutable_payload()->mutable_fields();
  fields["task_id"].set_string_value(NewUlid());
  fields["status"].set_string_value("completed");
  auto& result = *fields["result"].mutable_struct_value()->mutable_fields();
  if (total != 0) result["total"].set_string_value(absl::StrCat(total));
  if (!label.empty()) result["label"].set_string_value(label);
  if (count != 0) result["count"].set_number_value(count);
  return response;
}

google::protobuf::Struct InputStruct() {
  google::protobuf::Struct input;
  (void)MessageToStruct(testing::SumRequestOf(kValues), &input);
  return input;
}

v1::Envelope SumEnvelope() {
  v1::Envelope envelope;
  envelope.set_asap_version("0.1");
  envelope.set_sender("urn:asap:agent:bench");
  envelope.set_recipient("urn:asap:agent:echo");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("c1");
  fields["skill_id"].set_string_value("sum");
  *fields["input"].mutable_struct_value() = InputStruct();
  return envelope;
}

std::unique_ptr<google::protobuf::Message> Sample(int which) {
  if (which == 0) {
    return std::make_unique<SumRequest>(testing::SumRequestOf(kValues));
  }
  return std::make_unique<test::skills::Everything>(testing::FullEverything());
}

CodecOptions With(Conversion conversion) {
  CodecOptions options;
  options.conversion = conversion;
  return options;
}

void BM_Decode(benchmark::State& state, Conversion conversion) {
  std::unique_ptr<google::protobuf::Message> sample = Sample(state.range(0));
  google::protobuf::Struct object;
  (void)MessageToStruct(*sample, &object);
  std::unique_ptr<google::protobuf::Message> out(sample->New());
  CodecOptions options = With(conversion);
  for (auto _ : state) {
    absl::Status status = StructToMessage(object, out.get(), options);
    if (!status.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK_CAPTURE(BM_Decode, JsonText, Conversion::kJsonText)->Arg(0)->Arg(1);
BENCHMARK_CAPTURE(BM_Decode, Direct, Conversion::kDirect)->Arg(0)->Arg(1);

void BM_Encode(benchmark::State& state, Conversion conversion) {
  std::unique_ptr<google::protobuf::Message> sample = Sample(state.range(0));
  CodecOptions options = With(conversion);
  for (auto _ : state) {
    google::protobuf::Struct object;
    absl::Status status = MessageToStruct(*sample, &object, options);
    if (!status.ok()) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(object);
  }
}
BENCHMARK_CAPTURE(BM_Encode, JsonText, Conversion::kJsonText)->Arg(0)->Arg(1);
BENCHMARK_CAPTURE(BM_Encode, Direct, Conversion::kDirect)->Arg(0)->Arg(1);

// The generated agent, doing TypedSum.
class GeneratedSum final : public bench::SumAgent::Service {
 public:
  explicit GeneratedSum(SkillRouterOptions options)
      : bench::SumAgent::Service(std::move(options)) {}
  absl::StatusOr<SumResponse> Sum(const HandlerContext& context,
                                  const SumRequest& request) override {
    return TypedSum(context, request);
  }
};

SkillRouterOptions RouterOptions(Conversion conversion) {
  SkillRouterOptions options;
  options.codec.conversion = conversion;
  return options;
}

SkillRouter Router(Conversion conversion) {
  SkillRouterOptions options;
  options.codec.conversion = conversion;
  SkillRouter router(options);
  (void)router.Add<SumRequest, SumResponse>("sum", "Adds integers", TypedSum);
  return router;
}

void BM_Handler_StructHandler(benchmark::State& state) {
  v1::Manifest manifest;
  HandlerContext context(&manifest);
  v1::Envelope request = SumEnvelope();
  for (auto _ : state) {
    absl::StatusOr<v1::Envelope> response = StructSum(request, context);
    if (!response.ok()) state.SkipWithError("handler failed");
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_Handler_StructHandler);

void BM_Handler_Typed(benchmark::State& state, Conversion conversion) {
  v1::Manifest manifest;
  HandlerContext context(&manifest);
  v1::Envelope request = SumEnvelope();
  SkillRouter router = Router(conversion);
  for (auto _ : state) {
    absl::StatusOr<v1::Envelope> response =
        router.Handle(request, context, nullptr);
    if (!response.ok()) state.SkipWithError("handler failed");
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK_CAPTURE(BM_Handler_Typed, Direct, Conversion::kDirect);
BENCHMARK_CAPTURE(BM_Handler_Typed, JsonText, Conversion::kJsonText);

void BM_Handler_Generated(benchmark::State& state) {
  v1::Manifest manifest;
  HandlerContext context(&manifest);
  v1::Envelope request = SumEnvelope();
  GeneratedSum agent(RouterOptions(Conversion::kDirect));
  for (auto _ : state) {
    absl::StatusOr<v1::Envelope> response =
        agent.router().Handle(request, context, nullptr);
    if (!response.ok()) state.SkipWithError("handler failed");
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_Handler_Generated);

// A server with `handlers` and a gRPC client of it, for one benchmark.
struct Agent {
  std::unique_ptr<AsapServer> server;
  std::unique_ptr<AsapClient> client;
  std::string error;
};

Agent StartAgent(HandlerRegistry handlers) {
  Agent agent;
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.manifest = EchoManifest("");
  auto server = AsapServer::Start(std::move(options), std::move(handlers));
  if (!server.ok()) {
    agent.error = server.status().ToString();
    return agent;
  }
  agent.server = *std::move(server);
  ClientOptions client_options;
  client_options.target = agent.server->address();
  auto client = AsapClient::Create(client_options);
  if (client.ok()) {
    agent.client = *std::move(client);
  } else {
    agent.error = client.status().ToString();
  }
  return agent;
}

void RunEndToEnd(benchmark::State& state, Agent agent) {
  if (agent.client == nullptr) {
    state.SkipWithError(agent.error.c_str());
    return;
  }
  v1::Envelope request = SumEnvelope();
  for (auto _ : state) {
    absl::StatusOr<v1::Envelope> response = agent.client->Send(request);
    if (!response.ok()) {
      state.SkipWithError(std::string(response.status().message()).c_str());
      break;
    }
  }
}

void BM_EndToEnd_StructHandler(benchmark::State& state) {
  HandlerRegistry handlers;
  (void)handlers.Register("task.request", ContextHandler(StructSum));
  RunEndToEnd(state, StartAgent(std::move(handlers)));
}
BENCHMARK(BM_EndToEnd_StructHandler)->UseRealTime();

void BM_EndToEnd_Typed(benchmark::State& state, Conversion conversion) {
  HandlerRegistry handlers;
  (void)Router(conversion).RegisterWith(&handlers);
  RunEndToEnd(state, StartAgent(std::move(handlers)));
}
BENCHMARK_CAPTURE(BM_EndToEnd_Typed, Direct, Conversion::kDirect)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_EndToEnd_Typed, JsonText, Conversion::kJsonText)
    ->UseRealTime();

void BM_EndToEnd_Generated(benchmark::State& state) {
  GeneratedSum sum(RouterOptions(Conversion::kDirect));
  HandlerRegistry handlers;
  (void)sum.RegisterWith(&handlers);
  RunEndToEnd(state, StartAgent(std::move(handlers)));
}
BENCHMARK(BM_EndToEnd_Generated)->UseRealTime();

void BM_EndToEnd_GeneratedClient(benchmark::State& state) {
  GeneratedSum sum(RouterOptions(Conversion::kDirect));
  HandlerRegistry handlers;
  (void)sum.RegisterWith(&handlers);
  Agent agent = StartAgent(std::move(handlers));
  if (agent.client == nullptr) {
    state.SkipWithError(agent.error.c_str());
    return;
  }
  TypedStubOptions stub_options;
  stub_options.sender = "urn:asap:agent:bench";
  stub_options.recipient = "urn:asap:agent:echo";
  bench::SumAgent::Client client(agent.client.get(), stub_options);
  SumRequest request = testing::SumRequestOf(kValues);
  for (auto _ : state) {
    absl::StatusOr<SumResponse> response = client.Sum(request);
    if (!response.ok()) {
      state.SkipWithError(std::string(response.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_EndToEnd_GeneratedClient)->UseRealTime();

}  // namespace
}  // namespace asap::skills

BENCHMARK_MAIN();
