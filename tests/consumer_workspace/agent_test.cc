// The consumer's generated Greeter stubs over real gRPC, and its typed ASAP
// agent (generated from greeter_agent.proto) through the typed client on
// both bindings.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "client/asap_client.h"
#include "greeter.grpc.pb.h"
#include "greeter.pb.h"
#include "greeter_agent.asap.h"
#include "greeter_service.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"

namespace consumer {
namespace {

TEST(GreeterServiceTest, SayHelloOverGrpc) {
  GreeterService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  std::unique_ptr<Greeter::Stub> stub = Greeter::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  HelloRequest request;
  request.set_name("bazel");
  (*request.mutable_details()->mutable_fields())["n"].set_number_value(7);
  HelloReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::Status status = stub->SayHello(&context, request, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "Hello, bazel!");
  EXPECT_EQ(reply.details().fields().at("n").number_value(), 7);

  HelloReply empty_reply;
  grpc::ClientContext empty_context;
  empty_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(10));
  status = stub->SayHello(&empty_context, HelloRequest(), &empty_reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

class AgentTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    asap::ServerOptions options;
    options.address = "127.0.0.1:0";
    options.http_address = "127.0.0.1:0";
    ASSERT_TRUE(greeter_.AddTo(&options.manifest).ok());
    asap::HandlerRegistry handlers;
    ASSERT_TRUE(greeter_.RegisterWith(&handlers).ok());
    auto server =
        asap::AsapServer::Start(std::move(options), std::move(handlers));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);

    asap::ClientOptions client_options;
    client_options.target =
        GetParam() ? "http://" + server_->http_address() : server_->address();
    client_options.timeout = absl::Seconds(10);
    auto client = asap::AsapClient::Create(std::move(client_options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    asap::TypedStubOptions stub_options;
    stub_options.sender = "urn:asap:agent:consumer-test";
    stub_ = std::make_unique<GreeterAgent::Client>(client_.get(), stub_options);
  }

  void TearDown() override {
    stub_.reset();
    client_.reset();
    if (server_) {
      server_->Shutdown(absl::Seconds(1));
      server_->Wait();
    }
  }

  GreeterAgentImpl greeter_;
  std::unique_ptr<asap::AsapServer> server_;
  std::unique_ptr<asap::AsapClient> client_;
  std::unique_ptr<GreeterAgent::Client> stub_;
};

TEST_P(AgentTest, ServesTheManifestFromTheProto) {
  absl::StatusOr<asap::v1::Manifest> manifest = client_->GetManifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->id(), GreeterAgent::kAgentId);
  EXPECT_EQ(manifest->name(), "Consumer Greeter");
  EXPECT_EQ(manifest->description(), "Greets agents by name.");
  ASSERT_EQ(manifest->capabilities().skills_size(), 1);
  const asap::v1::Skill& greet = manifest->capabilities().skills(0);
  EXPECT_EQ(greet.id(), GreeterAgent::kGreetSkill);
  EXPECT_EQ(greet.input_schema().fields().at("title").string_value(),
            "consumer.HelloRequest");
}

TEST_P(AgentTest, GreetsThroughTheTypedClient) {
  HelloRequest request;
  request.set_name("test");
  (*request.mutable_details()->mutable_fields())["n"].set_number_value(7);
  absl::StatusOr<HelloReply> reply = stub_->Greet(request);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->message(), "Hello, test!");
  EXPECT_EQ(reply->details().fields().at("n").number_value(), 7);
}

TEST_P(AgentTest, AnswersPlainAsapJson) {
  asap::v1::Envelope request;
  request.set_sender("urn:asap:agent:consumer-test");
  request.set_recipient(GreeterAgent::kAgentId);
  request.set_payload_type("task.request");
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("conv-1");
  fields["skill_id"].set_string_value("greet");
  (*fields["input"].mutable_struct_value()->mutable_fields())["name"]
      .set_string_value("json");
  absl::StatusOr<asap::v1::Envelope> response = client_->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->payload_type(), "task.response");
  EXPECT_EQ(response->payload()
                .fields()
                .at("result")
                .struct_value()
                .fields()
                .at("message")
                .string_value(),
            "Hello, json!");
}

TEST_P(AgentTest, SkillErrorKeepsItsAsapCode) {
  absl::StatusOr<HelloReply> reply = stub_->Greet(HelloRequest());
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(asap::ErrorCodeOf(reply.status()),
            asap::ErrorCode::kMalformedEnvelope)
      << reply.status();
  EXPECT_NE(reply.status().message().find("input.name"),
            absl::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(Bindings, AgentTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Http" : "Grpc";
                         });

}  // namespace
}  // namespace consumer
