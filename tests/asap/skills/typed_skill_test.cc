// Typed skills: decoding the input, dispatching on skill_id, encoding the
// result, the manifest entries, and calls through a real server over gRPC
// and HTTP.
#include "asap/skills/typed_skill.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/asap/skills/testdata/skill_types.pb.h"
#include "tests/testing/test_server.h"

namespace asap::skills {
namespace {

using test::skills::SumRequest;
using test::skills::SumResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<SumResponse> Sum(const HandlerContext&,
                                const SumRequest& request) {
  if (request.label() == "fail") {
    return absl::FailedPreconditionError("the skill refused");
  }
  SumResponse response;
  int64_t total = 0;
  for (int64_t value : request.values()) total += value;
  response.set_total(total);
  response.set_label(request.label());
  response.set_count(request.values_size());
  return response;
}

absl::StatusOr<SumResponse> SlowSum(const HandlerContext& context,
                                    const SumRequest& request,
                                    const ProgressEmit& progress) {
  for (int i = 0; i < request.values_size(); ++i) {
    if (!progress(100.0 * (i + 1) / request.values_size(),
                  absl::StrCat("added ", i + 1))) {
      return AsapError(ErrorCode::kCancelled, "caller left");
    }
  }
  return Sum(context, request);
}

SkillRouter MakeRouter(SkillRouterOptions options = {}) {
  SkillRouter router(std::move(options));
  absl::Status added =
      router.Add<SumRequest, SumResponse>("sum", "Adds integers", Sum);
  EXPECT_TRUE(added.ok()) << added;
  added = router.AddStreaming<SumRequest, SumResponse>(
      "slow_sum", "Adds integers, one at a time", SlowSum);
  EXPECT_TRUE(added.ok()) << added;
  return router;
}

v1::Envelope TaskRequest(const std::string& skill_id,
                         const std::string& input_json) {
  v1::Envelope envelope;
  envelope.set_asap_version("0.1");
  envelope.set_sender("urn:asap:agent:skill-client");
  envelope.set_recipient("urn:asap:agent:echo");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("c1");
  fields["skill_id"].set_string_value(skill_id);
  google::protobuf::Struct input;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(input_json, &input).ok());
  *fields["input"].mutable_struct_value() = input;
  return envelope;
}

const google::protobuf::Struct& ResultOf(const v1::Envelope& response) {
  return response.payload().fields().at("result").struct_value();
}

TEST(SkillRouterTest, DecodesRunsAndEncodes) {
  SkillRouter router = MakeRouter();
  v1::Manifest manifest;
  HandlerContext context(&manifest);
  absl::StatusOr<v1::Envelope> response = router.Handle(
      TaskRequest("sum",
                  R"({"values": ["9007199254740993", 1], "label": "x"})"),
      context, nullptr);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->payload_type(), "task.response");
  EXPECT_EQ(response->payload().fields().at("status").string_value(),
            "completed");
  EXPECT_FALSE(
      response->payload().fields().at("task_id").string_value().empty());
  const auto& result = ResultOf(*response).fields();
  EXPECT_EQ(result.at("total").string_value(), "9007199254740994");
  EXPECT_EQ(result.at("label").string_value(), "x");
  EXPECT_EQ(result.at("count").number_value(), 2);
}

TEST(SkillRouterTest, UnknownSkillIsHandlerNotFoundListingSkills) {
  SkillRouter router = MakeRouter();
  v1::Manifest manifest;
  HandlerContext context(&manifest);
  absl::StatusOr<v1::Envelope> response =
      router.Handle(TaskRequest("product", "{}"), context, nullptr);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kHandlerNotFound);
  EXPECT_THAT(response.status().message(), HasSubstr("sum, slow_sum"));
}

TEST(SkillRouterTest, BadInputIsMalformedEnvelopeNamingTheField) {
  for (Conversion conversion : {Conversion::kDirect, Conversion::kJsonText}) {
    SkillRouterOptions options;
    options.codec.conversion = conversion;
    SkillRouter router = MakeRouter(options);
    v1::Manifest manifest;
    HandlerContext context(&manifest);
    absl::StatusOr<v1::Envelope> response = router.Handle(
        TaskRequest("sum", R"({"values": [1, "two"]})"), context, nullptr);
    EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kMalformedEnvelope);
    EXPECT_THAT(response.status().message(), HasSubstr("values"));
  }
}

TEST(SkillRouterTest, SkillErrorReachesTheCallerUnchanged) {
  SkillRouter router = MakeRouter();
  v1::Manifest manifest;
  HandlerContext context(&manifest);
  absl::StatusOr<v1::Envelope> response = router.Handle(
      TaskRequest("sum", R"({"label": "fail"})"), context, nullptr);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(response.status().message(), "the skill refused");
}

TEST(SkillRouterTest, DuplicateAndEmptyIdsAreRefused) {
  SkillRouter router = MakeRouter();
  absl::Status again = router.Add<SumRequest, SumResponse>("sum", "again", Sum);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  absl::Status no_id = router.Add<SumRequest, SumResponse>("", "no id", Sum);
  EXPECT_EQ(no_id.code(), absl::StatusCode::kInvalidArgument);
  absl::Status no_function =
      router.Add<SumRequest, SumResponse>("null", "no function", nullptr);
  EXPECT_EQ(no_function.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SkillRouterTest, ManifestGetsSkillsWithSchemas) {
  SkillRouter router = MakeRouter();
  v1::Manifest manifest;
  manifest.mutable_capabilities()->add_skills()->set_id("sum");  // replaced
  ASSERT_TRUE(router.AddSkillsTo(&manifest).ok());
  const auto& skills = manifest.capabilities().skills();
  ASSERT_EQ(skills.size(), 2);
  EXPECT_EQ(skills[0].id(), "sum");
  EXPECT_EQ(skills[0].description(), "Adds integers");
  EXPECT_EQ(skills[0].input_schema().fields().at("title").string_value(),
            "asap.test.skills.SumRequest");
  EXPECT_TRUE(skills[0]
                  .output_schema()
                  .fields()
                  .at("properties")
                  .struct_value()
                  .fields()
                  .contains("total"));
  EXPECT_EQ(skills[1].id(), "slow_sum");
  EXPECT_TRUE(manifest.capabilities().streaming());
}

TEST(RegisterTypedSkillTest, NonBlockingSkillAnswersOverGrpc) {
  HandlerRegistry handlers;
  SkillRouterOptions options;
  options.non_blocking = true;
  options.codec.field_names = FieldNames::kOriginal;
  ASSERT_TRUE((RegisterTypedSkill<SumRequest, SumResponse>(
                   &handlers, "sum", "Adds integers", Sum, options))
                  .ok());
  auto server = asap::testing::StartTestServer(std::move(handlers));
  ASSERT_NE(server, nullptr);
  ClientOptions client_options;
  client_options.target = server->address();
  auto client = AsapClient::Create(client_options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<v1::Envelope> response =
      (*client)->Send(TaskRequest("sum", R"({"values": [20, 22]})"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(ResultOf(*response).fields().at("total").string_value(), "42");
}

// A real server, called over gRPC and over the HTTP binding.
class TypedSkillServerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    HandlerRegistry handlers;
    ASSERT_TRUE(MakeRouter().RegisterWith(&handlers).ok());
    ServerOptions options;
    options.http_address = "127.0.0.1:0";
    server_ =
        asap::testing::StartTestServer(std::move(handlers), std::move(options));
    ASSERT_NE(server_, nullptr);
    ClientOptions client_options;
    client_options.target =
        GetParam() ? absl::StrCat("http://", server_->http_address())
                   : server_->address();
    auto client = AsapClient::Create(client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  std::unique_ptr<AsapServer> server_;
  std::unique_ptr<AsapClient> client_;
};

TEST_P(TypedSkillServerTest, TypedCallRoundTrips) {
  absl::StatusOr<v1::Envelope> response = client_->Send(TaskRequest(
      "sum",
      R"({"values": [1, 2, "40"], "label": "http?", "color": "COLOR_RED"})"));
  ASSERT_TRUE(response.ok()) << response.status();
  SumResponse typed;
  ASSERT_TRUE(StructToMessage(ResultOf(*response), &typed).ok());
  EXPECT_EQ(typed.total(), 43);
  EXPECT_EQ(typed.count(), 3);
  EXPECT_EQ(typed.label(), "http?");
}

TEST_P(TypedSkillServerTest, BadInputAndUnknownSkillKeepTheirCodes) {
  absl::StatusOr<v1::Envelope> bad =
      client_->Send(TaskRequest("sum", R"({"values": [1.5]})"));
  EXPECT_EQ(ErrorCodeOf(bad.status()), ErrorCode::kMalformedEnvelope)
      << bad.status();
  absl::StatusOr<v1::Envelope> unknown =
      client_->Send(TaskRequest("nope", "{}"));
  EXPECT_EQ(ErrorCodeOf(unknown.status()), ErrorCode::kHandlerNotFound)
      << unknown.status();
}

TEST_P(TypedSkillServerTest, StreamingSkillSendsProgress) {
  std::vector<double> percents;
  absl::StatusOr<v1::Envelope> response = client_->SendStream(
      TaskRequest("slow_sum", R"({"values": [5, 6, 7, 8]})"),
      [&percents](const v1::Envelope& update) {
        EXPECT_EQ(update.payload_type(), "task.update");
        percents.push_back(update.payload()
                               .fields()
                               .at("progress")
                               .struct_value()
                               .fields()
                               .at("percent")
                               .number_value());
      });
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(percents, ElementsAre(25, 50, 75, 100));
  EXPECT_EQ(ResultOf(*response).fields().at("total").string_value(), "26");
}

INSTANTIATE_TEST_SUITE_P(Bindings, TypedSkillServerTest,
                         ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Http" : "Grpc";
                         });

}  // namespace
}  // namespace asap::skills
