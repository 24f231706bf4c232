// The generated C++ of inventory.proto end to end: the typed agent serves
// both bindings and the typed client calls it over each.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "client/asap_client.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/agent_server.h"
#include "server/asap_server.h"
#include "server/echo_skill.h"
#include "tests/codegen/inventory_agent.h"

namespace asap::testing::inventory {
namespace {

using ::google::protobuf::util::MessageDifferencer;

Item FullItem() {
  Item item;
  item.set_sku("sku-1");
  item.set_quantity(int64_t{1} << 53 | 1);  // beyond a double's precision
  item.set_condition(CONDITION_USED);
  item.mutable_dimensions()->set_width_cm(12.5);
  item.mutable_dimensions()->set_height_cm(3);
  item.add_tags("blue");
  item.add_tags("sale");
  (*item.mutable_stock_by_site())["paris"] = 4;
  (*item.mutable_stock_by_site())["lyon"] = 0;
  item.set_price_text("on request");
  item.set_photo(std::string("\x00\xff\x10 bytes", 9));
  item.mutable_added()->set_seconds(1700000000);
  item.mutable_added()->set_nanos(5000);
  item.mutable_shelf_life()->set_seconds(86400);
  item.mutable_reorder_level()->set_value(0);  // set, though zero
  (*item.mutable_attributes()->mutable_fields())["origin"].set_string_value(
      "fr");
  item.set_serial(~uint64_t{0});
  item.set_weight_kg(0.25f);
  item.set_fragile(true);
  return item;
}

class TypedAgentTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    auto server = StartAgent(agent_, std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);

    ClientOptions client_options;
    client_options.target =
        http() ? "http://" + server_->http_address() : server_->address();
    client_options.timeout = absl::Seconds(20);
    auto client = AsapClient::Create(client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    TypedStubOptions stub_options;
    stub_options.sender = "urn:asap:agent:inventory-test";
    stub_ =
        std::make_unique<InventoryAgent::Client>(client_.get(), stub_options);
  }

  bool http() const { return GetParam(); }

  // A task.request to the inventory agent with `input` as raw JSON.
  absl::StatusOr<v1::Envelope> SendRaw(const std::string& skill_id,
                                       const std::string& input_json) {
    v1::Envelope envelope;
    envelope.set_sender("urn:asap:agent:inventory-test");
    envelope.set_recipient(InventoryAgent::kAgentId);
    envelope.set_payload_type("task.request");
    auto& payload = *envelope.mutable_payload()->mutable_fields();
    payload["conversation_id"].set_string_value("c-1");
    payload["skill_id"].set_string_value(skill_id);
    absl::Status parsed =
        FromJson(input_json, payload["input"].mutable_struct_value(),
                 ErrorCode::kMalformedEnvelope);
    if (!parsed.ok()) return parsed;
    return client_->Send(envelope);
  }

  Inventory agent_;
  std::unique_ptr<AsapServer> server_;
  std::unique_ptr<AsapClient> client_;
  std::unique_ptr<InventoryAgent::Client> stub_;
};

TEST_P(TypedAgentTest, EveryKindOfFieldSurvivesTheRoundTrip) {
  AddItemsRequest request;
  *request.add_items() = FullItem();
  Item second;
  second.set_sku("sku-2");
  second.set_quantity(3);
  second.set_price_cents(1250);
  *request.add_items() = second;

  absl::StatusOr<AddItemsResponse> added = stub_->AddItems(request);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->added(), 2);
  EXPECT_EQ(added->total_quantity(), (int64_t{1} << 53 | 1) + 3);
  EXPECT_EQ(
      std::vector<std::string>(added->skus().begin(), added->skus().end()),
      (std::vector<std::string>{"sku-1", "sku-2"}));

  LookupRequest lookup;
  lookup.set_sku("sku-1");
  absl::StatusOr<Item> found = stub_->Lookup(lookup);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*found, FullItem()))
      << found->DebugString();
  lookup.set_sku("sku-2");
  found = stub_->Lookup(lookup);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*found, second));
}

TEST_P(TypedAgentTest, StreamingSkillReportsProgressThenAnswers) {
  CountRequest request;
  request.set_steps(4);
  std::vector<double> percents;
  std::vector<std::string> messages;
  absl::StatusOr<CountResponse> counted =
      stub_->Count(request, [&](double percent, absl::string_view message) {
        percents.push_back(percent);
        messages.emplace_back(message);
      });
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->counted(), 0);
  EXPECT_EQ(percents, (std::vector<double>{25, 50, 75, 100}));
  EXPECT_EQ(messages.back(), "step 4");
}

TEST_P(TypedAgentTest, StreamingAsyncCallReportsProgressThenRunsDoneOnce) {
  CountRequest request;
  request.set_steps(4);
  absl::Mutex mu;
  std::vector<std::string> events;  // "<percent>" per update, then "done"
  absl::StatusOr<CountResponse> result;
  absl::Notification done;
  stub_->CountAsync(
      request,
      [&](double percent, absl::string_view message) {
        absl::MutexLock lock(&mu);
        events.push_back(absl::StrCat(percent, " ", message));
      },
      [&](absl::StatusOr<CountResponse> counted) {
        {
          absl::MutexLock lock(&mu);
          events.push_back("done");
          result = std::move(counted);
        }
        done.Notify();
      });
  done.WaitForNotification();
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->counted(), 0);
  EXPECT_EQ(events,
            (std::vector<std::string>{"25 step 1", "50 step 2", "75 step 3",
                                      "100 step 4", "done"}));
}

TEST_P(TypedAgentTest, StreamingAsyncCallGivesSkillErrorsToDone) {
  CountRequest request;
  request.set_steps(101);
  absl::Notification done;
  absl::StatusOr<CountResponse> result;
  stub_->CountAsync(request, nullptr,
                    [&](absl::StatusOr<CountResponse> counted) {
                      result = std::move(counted);
                      done.Notify();
                    });
  done.WaitForNotification();
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kMalformedEnvelope)
      << result.status();
}

TEST_P(TypedAgentTest, SkillErrorsReachTheCallerUnchanged) {
  CountRequest request;
  request.set_steps(101);
  absl::StatusOr<CountResponse> counted = stub_->Count(request);
  EXPECT_EQ(ErrorCodeOf(counted.status()), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(counted.status().message().find("input.steps"),
            absl::string_view::npos)
      << counted.status();
}

TEST_P(TypedAgentTest, AnInputOfTheWrongTypeNamesTheField) {
  absl::StatusOr<v1::Envelope> answer = SendRaw(
      "add_items", R"({"items": [{"sku": "a"}, {"quantity": "lots"}]})");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(answer.status().message().find("input.items[1].quantity"),
            absl::string_view::npos)
      << answer.status();
}

TEST_P(TypedAgentTest, AnUnknownInputFieldIsRefused) {
  absl::StatusOr<v1::Envelope> answer =
      SendRaw("inventory.lookup", R"({"sku": "a", "colour": "red"})");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(ErrorCodeOf(answer.status()), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(answer.status().message().find("input.colour"),
            absl::string_view::npos)
      << answer.status();
}

TEST_P(TypedAgentTest, PlainAsapJsonReachesTheTypedSkill) {
  // What any ASAP client sends: proto names or json names, 64-bit integers
  // as strings, enums by name.
  absl::StatusOr<v1::Envelope> answer = SendRaw(
      "add_items",
      R"({"items": [{"sku": "x", "quantity": "7", "condition": "CONDITION_NEW",
                     "stock_by_site": {"a": 1}, "priceCents": 5}]})");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->payload_type(), "task.response");
  const auto& result =
      answer->payload().fields().at("result").struct_value().fields();
  EXPECT_EQ(result.at("added").number_value(), 1);
  EXPECT_EQ(result.at("totalQuantity").string_value(), "7");
}

TEST_P(TypedAgentTest, ASkillTheAgentDidNotImplementIsHandlerNotFound) {
  absl::StatusOr<google::protobuf::Empty> cleared =
      stub_->Clear(google::protobuf::Empty());
  EXPECT_EQ(ErrorCodeOf(cleared.status()), ErrorCode::kHandlerNotFound);
  EXPECT_NE(cleared.status().message().find("\"clear\""),
            absl::string_view::npos)
      << cleared.status();
}

TEST_P(TypedAgentTest, AsyncCallRunsTheCallbackOnce) {
  AddItemsRequest request;
  request.add_items()->set_sku("async");
  absl::Notification done;
  absl::StatusOr<AddItemsResponse> result;
  stub_->AddItemsAsync(request, [&](absl::StatusOr<AddItemsResponse> response) {
    result = std::move(response);
    done.Notify();
  });
  done.WaitForNotification();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->skus(0), "async");
}

TEST_P(TypedAgentTest, CallOptionsMetadataReachesTheSkill) {
  AddItemsRequest request;
  request.add_items()->set_sku("m");
  CallOptions options;
  options.metadata.emplace_back("x-tenant", "tenant-7");
  ASSERT_TRUE(stub_->AddItems(request, options).ok());
  EXPECT_EQ(agent_.last_metadata("x-tenant"), "tenant-7");
}

TEST_P(TypedAgentTest, ADeadlineInThePastFailsTheCall) {
  CallOptions options;
  options.deadline = absl::Now() - absl::Seconds(1);
  absl::StatusOr<AddItemsResponse> added =
      stub_->AddItems(AddItemsRequest(), options);
  EXPECT_EQ(ErrorCodeOf(added.status()), ErrorCode::kDeadlineExceeded)
      << added.status();
}

TEST_P(TypedAgentTest, TheServedManifestHasTheSkillsAndTheirSchemas) {
  absl::StatusOr<v1::Manifest> manifest = client_->GetManifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->id(), "urn:asap:agent:inventory");
  EXPECT_EQ(manifest->name(), "InventoryAgent");
  EXPECT_EQ(manifest->version(), "2.1.0");
  EXPECT_EQ(manifest->description(), "Keeps a stock of items.");
  EXPECT_TRUE(manifest->capabilities().streaming());
  std::vector<std::string> ids;
  for (const v1::Skill& skill : manifest->capabilities().skills()) {
    ids.push_back(skill.id());
    EXPECT_TRUE(skill.input_schema().fields().contains("$schema"));
    EXPECT_TRUE(skill.output_schema().fields().contains("properties") ||
                skill.output_schema().fields().contains("type"));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"add_items", "count",
                                           "inventory.lookup", "clear"}));
  EXPECT_EQ(manifest->capabilities().skills(2).description(),
            "Finds one item by its SKU");
  EXPECT_EQ(manifest->capabilities()
                .skills(2)
                .input_schema()
                .fields()
                .at("title")
                .string_value(),
            "asap.testing.inventory.LookupRequest");
}

TEST_P(TypedAgentTest, AStubWithoutASenderSendsNothing) {
  InventoryAgent::Client anonymous(client_.get(), TypedStubOptions());
  absl::StatusOr<AddItemsResponse> added =
      anonymous.AddItems(AddItemsRequest());
  EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(added.status().message().find("sender"), absl::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(Bindings, TypedAgentTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Http" : "Grpc";
                         });

// ---- StartAgent ----

TEST(StartAgentTest, KeepsTheManifestItIsGivenAndOtherHandlers) {
  Inventory agent;
  ServerOptions options;
  options.manifest.set_id("urn:asap:agent:renamed");
  options.manifest.set_description("set by the operator");
  HandlerRegistry handlers;
  ASSERT_TRUE(handlers
                  .Register("ping.request",
                            [](const v1::Envelope&, const v1::Manifest&)
                                -> absl::StatusOr<v1::Envelope> {
                              v1::Envelope pong;
                              pong.set_payload_type("ping.response");
                              pong.mutable_payload();
                              return pong;
                            })
                  .ok());
  auto server = StartAgent(agent, std::move(options), std::move(handlers));
  ASSERT_TRUE(server.ok()) << server.status();
  ClientOptions client_options;
  client_options.target = (*server)->address();
  auto client = AsapClient::Create(client_options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<v1::Manifest> manifest = (*client)->GetManifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->id(), "urn:asap:agent:renamed");
  EXPECT_EQ(manifest->description(), "set by the operator");
  EXPECT_EQ(manifest->version(), "2.1.0");
  EXPECT_EQ(manifest->capabilities().skills_size(), 4);
  v1::Envelope ping;
  ping.set_sender("urn:asap:agent:inventory-test");
  ping.set_recipient("urn:asap:agent:renamed");
  ping.set_payload_type("ping.request");
  ping.mutable_payload();
  absl::StatusOr<v1::Envelope> pong = (*client)->Send(ping);
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->payload_type(), "ping.response");
}

TEST(StartAgentTest, RefusesRegistriesThatAlreadyAnswerTaskRequests) {
  Inventory agent;
  HandlerRegistry handlers = EchoHandlers();
  auto server = StartAgent(agent, ServerOptions(), std::move(handlers));
  EXPECT_EQ(server.status().code(), absl::StatusCode::kAlreadyExists)
      << server.status();
}

// ---- Reading results ----

v1::Envelope Answer(const std::string& payload_json) {
  v1::Envelope answer;
  answer.set_payload_type("task.response");
  EXPECT_TRUE(FromJson(payload_json, answer.mutable_payload(),
                       ErrorCode::kMalformedEnvelope)
                  .ok());
  return answer;
}

TEST(TypedStubResultTest, ResultFieldsTheClientDoesNotKnowAreSkipped) {
  AddItemsResponse response;
  absl::Status status = TypedStub::ReadResult(Answer(R"({"status": "completed",
                 "result": {"added": 2, "addedBy": "a newer agent"}})"),
                                              &response);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(response.added(), 2);
}

TEST(TypedStubResultTest, AResultOfTheWrongShapeIsMalformed) {
  AddItemsResponse response;
  absl::Status status = TypedStub::ReadResult(
      Answer(R"({"status": "completed", "result": {"added": "two"}})"),
      &response);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
  EXPECT_NE(status.message().find("result.added"), absl::string_view::npos)
      << status;
  status = TypedStub::ReadResult(
      Answer(R"({"status": "completed", "result": [1]})"), &response);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
}

TEST(TypedStubResultTest, ATaskThatDidNotCompleteIsAnError) {
  AddItemsResponse response;
  absl::Status status = TypedStub::ReadResult(
      Answer(R"({"status": "failed", "result": {}})"), &response);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kInternal);
  EXPECT_NE(status.message().find("failed"), absl::string_view::npos);
  v1::Envelope update = Answer(R"({"status": "completed"})");
  update.set_payload_type("task.update");
  status = TypedStub::ReadResult(update, &response);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kInternal);
}

TEST(TypedStubResultTest, NoResultIsTheEmptyMessage) {
  AddItemsResponse response;
  response.set_added(9);
  ASSERT_TRUE(
      TypedStub::ReadResult(Answer(R"({"status": "completed"})"), &response)
          .ok());
  EXPECT_EQ(response.added(), 0);
}

}  // namespace
}  // namespace asap::testing::inventory
