// AsapServer and AsapClient end to end on 127.0.0.1, port 0.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/server/grpc_services.grpc.pb.h"
#include "tests/server/reflection_client.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

v1::Envelope TaskRequest(const std::string& text) {
  return asap::testing::EchoRequest(text, "urn:asap:agent:tester");
}

std::unique_ptr<AsapClient> ClientFor(const AsapServer& server,
                                      bool validate = true) {
  ClientOptions options;
  options.target = server.address();
  options.timeout = absl::Seconds(10);
  options.validate_before_send = validate;
  return *AsapClient::Create(options);
}

// Sends with a raw generated stub, to see exactly what any gRPC client sees.
grpc::Status RawSend(const AsapServer& server, const v1::Envelope& request,
                     std::string* asap_code_trailer) {
  auto channel =
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  grpc::ClientContext context;
  v1::Envelope response;
  grpc::Status status =
      v1::AsapService::NewStub(channel)->Send(&context, request, &response);
  auto trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("asap-error-code");
  if (it != trailers.end()) {
    asap_code_trailer->assign(it->second.data(), it->second.size());
  }
  return status;
}

TEST(AsapServerTest, EchoesATaskRequest) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  auto client = ClientFor(*server);
  v1::Envelope request = TaskRequest("hello");
  request.set_id(NewUlid());
  absl::StatusOr<v1::Envelope> response = client->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->payload_type(), "task.response");
  EXPECT_EQ(response->correlation_id(), request.id());
  EXPECT_EQ(response->sender(), "urn:asap:agent:echo");
  EXPECT_EQ(response->recipient(), "urn:asap:agent:tester");
  EXPECT_TRUE(IsUlid(response->id()));
  EXPECT_FALSE(response->timestamp().empty());
  const auto& payload = response->payload().fields();
  EXPECT_EQ(payload.at("status").string_value(), "completed");
  EXPECT_EQ(
      payload.at("result").struct_value().fields().at("text").string_value(),
      "hello");
}

TEST(AsapServerTest, CamelCaseRequestGetsCamelCaseResponse) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  v1::Envelope request = TaskRequest("x");
  request.set_payload_type("TaskRequest");
  absl::StatusOr<v1::Envelope> response = ClientFor(*server)->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->payload_type(), "TaskResponse");
}

TEST(AsapServerTest, ServesManifestWithBoundAddress) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  absl::StatusOr<v1::Manifest> manifest = ClientFor(*server)->GetManifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->id(), "urn:asap:agent:echo");
  EXPECT_EQ(manifest->endpoints().asap(), server->address());
  EXPECT_NE(server->port(), 0);
}

TEST(AsapServerTest, UnknownPayloadTypeIsHandlerNotFound) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  v1::Envelope request = TaskRequest("x");
  request.set_payload_type("custom.unknown");
  absl::StatusOr<v1::Envelope> response = ClientFor(*server)->Send(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kHandlerNotFound);
  EXPECT_THAT(std::string(response.status().message()),
              HasSubstr("task.request"));  // lists what the agent handles
}

TEST(AsapServerTest, AnyGrpcClientSeesTheAsapCodeInTrailers) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  v1::Envelope request = TaskRequest("x");
  FillEnvelopeDefaults(&request, absl::Now());
  request.set_payload_type("custom.unknown");
  std::string trailer;
  grpc::Status status = RawSend(*server, request, &trailer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("asap:transport/handler_not_found"));
  EXPECT_EQ(trailer, "asap:transport/handler_not_found");
}

TEST(AsapServerTest, ServerRejectsMalformedEnvelope) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  v1::Envelope request = TaskRequest("x");
  FillEnvelopeDefaults(&request, absl::Now());
  request.set_sender("not-a-urn");
  std::string trailer;
  grpc::Status status = RawSend(*server, request, &trailer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(trailer, "asap:protocol/malformed_envelope");
  EXPECT_THAT(status.error_message(), HasSubstr("sender"));
}

TEST(AsapServerTest, ClientValidatesBeforeSending) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  v1::Envelope request = TaskRequest("x");
  request.mutable_payload()->mutable_fields()->erase("skill_id");
  absl::StatusOr<v1::Envelope> response = ClientFor(*server)->Send(request);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kMalformedEnvelope);
}

TEST(AsapServerTest, ServerRejectsStaleTimestamp) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  v1::Envelope request = TaskRequest("x");
  request.set_timestamp(FormatTimestamp(absl::Now() - absl::Minutes(10)));
  absl::StatusOr<v1::Envelope> response =
      ClientFor(*server, /*validate=*/false)->Send(request);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kInvalidTimestamp);
}

TEST(AsapServerTest, ServerRejectsReplayedNonce) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  auto client = ClientFor(*server);
  v1::Envelope request = TaskRequest("x");
  (*request.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
      "nonce-1");
  ASSERT_TRUE(client->Send(request).ok());
  absl::StatusOr<v1::Envelope> replay = client->Send(request);
  EXPECT_EQ(ErrorCodeOf(replay.status()), ErrorCode::kInvalidNonce);
}

// The configured limit is the one applied, both ways: 6 MB is above gRPC's
// own 4 MB default, so a 5 MB envelope passes only if the server raised the
// limit, and a 7 MB one fails only if it enforces it.
TEST(AsapServerTest, OversizedMessageIsPayloadTooLarge) {
  ServerOptions options;
  options.max_message_bytes = 6 << 20;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ClientOptions client_options;
  client_options.target = server->address();
  client_options.max_message_bytes = 16 << 20;
  client_options.compression.algorithm = Compression::kNone;
  auto client = *AsapClient::Create(client_options);
  absl::StatusOr<v1::Envelope> fits =
      client->Send(TaskRequest(std::string(5 << 20, 'x')));
  EXPECT_TRUE(fits.ok()) << fits.status();
  absl::StatusOr<v1::Envelope> response =
      client->Send(TaskRequest(std::string(7 << 20, 'x')));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kPayloadTooLarge);
}

// A port that is bound but never listened on: connecting is refused, and no
// other process can take the port while the test holds it.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
              0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST(AsapServerTest, UnreachableServerIsUnavailable) {
  RefusingPort nothing_listens;
  ClientOptions options;
  options.target = nothing_listens.address();
  options.timeout = absl::Seconds(5);
  auto client = *AsapClient::Create(options);
  absl::StatusOr<v1::Envelope> response = client->Send(TaskRequest("x"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kUnavailable);
}

TEST(AsapServerTest, HandlerErrorReachesTheClientWithItsCode) {
  HandlerRegistry handlers;
  ASSERT_TRUE(handlers
                  .Register("task.request",
                            [](const v1::Envelope&, const v1::Manifest&)
                                -> absl::StatusOr<v1::Envelope> {
                              return AsapError(ErrorCode::kTaskNotFound,
                                               "task t-9 is unknown");
                            })
                  .ok());
  auto server = testing::StartTestServer(std::move(handlers));
  absl::StatusOr<v1::Envelope> response =
      ClientFor(*server)->Send(TaskRequest("x"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorCodeOf(response.status()), ErrorCode::kTaskNotFound);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("t-9"));
}

TEST(AsapServerTest, InvalidHandlerResponseIsInternal) {
  HandlerRegistry handlers;
  ASSERT_TRUE(handlers
                  .Register("task.request",
                            [](const v1::Envelope&, const v1::Manifest&)
                                -> absl::StatusOr<v1::Envelope> {
                              return v1::Envelope();  // no payload
                            })
                  .ok());
  auto server = testing::StartTestServer(std::move(handlers));
  absl::StatusOr<v1::Envelope> response =
      ClientFor(*server)->Send(TaskRequest("x"));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(response.status().message()),
              HasSubstr("invalid response"));
}

TEST(AsapServerTest, RejectsInvalidManifestAtStart) {
  ServerOptions options;
  options.manifest.set_id("bad");
  auto server = AsapServer::Start(std::move(options), asap::EchoHandlers());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AsapServerTest, AddressInUseIsUnavailable) {
  auto first = testing::StartTestServer(asap::EchoHandlers());
  ServerOptions options;
  options.address = first->address();
  options.manifest = asap::EchoManifest("");
  auto second = AsapServer::Start(std::move(options), asap::EchoHandlers());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(AsapServerTest, HealthServiceReportsServing) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  auto channel = grpc::CreateChannel(server->address(),
                                     grpc::InsecureChannelCredentials());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(
      &context, grpc::health::v1::HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(AsapServerTest, ReflectionListsTheAsapService) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  auto channel = grpc::CreateChannel(server->address(),
                                     grpc::InsecureChannelCredentials());
  testing::ReflectionListing listing = testing::ListServices(channel);
  EXPECT_TRUE(listing.status.ok()) << listing.status.error_message();
  EXPECT_THAT(listing.services, ::testing::Contains("asap.v1.AsapService"));
}

TEST(AsapServerTest, ShutdownRefusesNewCallsAndLetsCallsInFlightFinish) {
  absl::Notification handler_entered;
  absl::Notification release_handler;
  auto server = testing::StartTestServer(testing::EchoAfter([&] {
    if (!handler_entered.HasBeenNotified()) handler_entered.Notify();
    release_handler.WaitForNotificationWithTimeout(absl::Seconds(30));
  }));
  auto client = ClientFor(*server);
  absl::StatusOr<v1::Envelope> in_flight;
  absl::Notification in_flight_done;
  std::thread caller([&] {
    in_flight = client->Send(TaskRequest("slow"));
    in_flight_done.Notify();
  });
  ASSERT_TRUE(
      handler_entered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::thread stopper([&] { server->Shutdown(absl::Seconds(30)); });
  // Shutdown starts on another thread: new calls (each on a new connection)
  // are tried until one is refused, which must happen while the old call is
  // still held in its handler.
  bool refused = false;
  for (int attempt = 0; attempt < 200 && !refused; ++attempt) {
    ClientOptions options;
    options.target = server->address();
    options.timeout = absl::Seconds(2);
    auto fresh = *AsapClient::Create(options);
    absl::StatusOr<v1::Envelope> late = fresh->Send(TaskRequest("late"));
    refused = !late.ok();
    if (refused) {
      // Refused at connect (UNAVAILABLE), cancelled by the draining server
      // (CANCELLED), or never served while it drains (the client waits for
      // a ready connection until its deadline).
      EXPECT_THAT(
          ErrorCodeOf(late.status()),
          ::testing::AnyOf(ErrorCode::kUnavailable, ErrorCode::kCancelled,
                           ErrorCode::kDeadlineExceeded))
          << late.status();
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_FALSE(in_flight_done.HasBeenNotified());
  release_handler.Notify();
  caller.join();
  stopper.join();
  server->Wait();
  EXPECT_TRUE(in_flight.ok()) << in_flight.status();
}

TEST(HandlerRegistryTest, RejectsDuplicatesEmptyTypesAndNullHandlers) {
  HandlerRegistry handlers;
  EXPECT_TRUE(handlers.Register("a", asap::EchoTask).ok());
  EXPECT_EQ(handlers.Register("a", asap::EchoTask).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(handlers.Register("", asap::EchoTask).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(handlers.Register("b", Handler()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(handlers.Find("a"), nullptr);
  EXPECT_EQ(handlers.Find("b"), nullptr);
}

}  // namespace
}  // namespace asap
