// The consumer's generated Greeter stubs over real gRPC, and its ASAP agent
// (AsapServer + custom handler + echo handlers) through AsapClient.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "client/asap_client.h"
#include "examples/echo_agent/echo_agent.h"
#include "greeter.grpc.pb.h"
#include "greeter.pb.h"
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

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    asap::HandlerRegistry handlers = asap::examples::EchoHandlers();
    ASSERT_TRUE(handlers.Register(kGreetingRequest, GreetingHandler).ok());
    asap::ServerOptions options;
    options.address = "127.0.0.1:0";
    options.manifest = GreeterManifest();
    auto server =
        asap::AsapServer::Start(std::move(options), std::move(handlers));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);

    asap::ClientOptions client_options;
    client_options.target = server_->address();
    client_options.timeout = absl::Seconds(10);
    auto client = asap::AsapClient::Create(std::move(client_options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  void TearDown() override {
    client_.reset();
    if (server_) {
      server_->Shutdown(absl::Seconds(1));
      server_->Wait();
    }
  }

  static asap::v1::Envelope Request(const std::string& payload_type) {
    asap::v1::Envelope request;
    request.set_sender("urn:asap:agent:consumer-test");
    request.set_recipient(kAgentId);
    request.set_payload_type(payload_type);
    request.mutable_payload();
    return request;
  }

  std::unique_ptr<asap::AsapServer> server_;
  std::unique_ptr<asap::AsapClient> client_;
};

TEST_F(AgentTest, ServesItsManifest) {
  absl::StatusOr<asap::v1::Manifest> manifest = client_->GetManifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->id(), kAgentId);
  EXPECT_EQ(manifest->endpoints().asap(), server_->address());
}

TEST_F(AgentTest, AnswersAGreeting) {
  asap::v1::Envelope request = Request(kGreetingRequest);
  (*request.mutable_payload()->mutable_fields())["name"].set_string_value(
      "test");
  absl::StatusOr<asap::v1::Envelope> response = client_->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->payload_type(), kGreetingResponse);
  EXPECT_EQ(response->sender(), kAgentId);
  EXPECT_FALSE(response->correlation_id().empty());
  EXPECT_EQ(response->payload().fields().at("message").string_value(),
            "Hello, test!");
  EXPECT_EQ(response->payload().fields().at("greeter").string_value(),
            kAgentId);
}

TEST_F(AgentTest, EchoesATask) {
  asap::v1::Envelope request = Request("task.request");
  auto& fields = *request.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("conv-1");
  fields["skill_id"].set_string_value("echo");
  (*fields["input"].mutable_struct_value()->mutable_fields())["x"]
      .set_string_value("y");
  absl::StatusOr<asap::v1::Envelope> response = client_->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->payload_type(), "task.response");
  EXPECT_EQ(response->payload().fields().at("status").string_value(),
            "completed");
  EXPECT_EQ(asap::ToJson(response->payload().fields().at("result")),
            asap::ToJson(fields["input"]));
}

TEST_F(AgentTest, HandlerErrorKeepsItsAsapCode) {
  // No name: GreetingHandler refuses it.
  absl::StatusOr<asap::v1::Envelope> response =
      client_->Send(Request(kGreetingRequest));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(asap::ErrorCodeOf(response.status()),
            asap::ErrorCode::kMalformedEnvelope)
      << response.status();
}

TEST_F(AgentTest, UnknownPayloadTypeIsHandlerNotFound) {
  absl::StatusOr<asap::v1::Envelope> response =
      client_->Send(Request("no.such.type"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(asap::ErrorCodeOf(response.status()),
            asap::ErrorCode::kHandlerNotFound)
      << response.status();
}

}  // namespace
}  // namespace consumer
