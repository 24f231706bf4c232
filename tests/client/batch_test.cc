// AsapClient::SendBatch against a real server on 127.0.0.1:0.
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "benchmarks/relay/byte_counting_relay.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/echo_with_hook.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

v1::Envelope TaskRequest(const std::string& text) {
  return asap::testing::EchoRequest(text, "urn:asap:agent:tester");
}

using asap::testing::EchoedText;

std::vector<v1::Envelope> Numbered(int n) {
  std::vector<v1::Envelope> envelopes;
  for (int i = 0; i < n; ++i) envelopes.push_back(TaskRequest(absl::StrCat(i)));
  return envelopes;
}

std::unique_ptr<AsapClient> ClientFor(const AsapServer& server,
                                      int max_message_bytes = 10 << 20,
                                      bool validate = true) {
  ClientOptions options;
  options.target = server.address();
  options.timeout = absl::Seconds(60);
  options.max_message_bytes = max_message_bytes;
  options.validate_before_send = validate;
  return *AsapClient::Create(options);
}

// Echo, after a random pause of up to 2 ms: handlers finish out of order.
HandlerRegistry JitteryEcho() {
  return testing::EchoAfter([] {
    thread_local std::mt19937 rng{std::random_device{}()};
    absl::SleepFor(absl::Microseconds(rng() % 2000));
  });
}

TEST(SendBatchTest, ResultsComeBackInInputOrder) {
  ServerOptions options;
  options.batch_workers = 4;
  auto server = testing::StartTestServer(JitteryEcho(), std::move(options));
  BatchOptions batch;
  batch.max_envelopes_per_frame = 5;  // many frames, run concurrently
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(Numbered(300), batch);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 300u);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(EchoedText(*(*results)[i]), absl::StrCat(i));
  }
}

TEST(SendBatchTest, PerItemErrorsLandInTheirSlots) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  std::vector<v1::Envelope> envelopes = Numbered(50);
  envelopes[3].set_payload_type("custom.unknown");  // server: no handler
  envelopes[17].set_sender("Not A Urn");            // client: invalid
  envelopes[42].mutable_payload()->mutable_fields()->erase("skill_id");
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(std::move(envelopes));
  ASSERT_TRUE(results.ok()) << results.status();
  for (int i = 0; i < 50; ++i) {
    if (i == 3 || i == 17 || i == 42) continue;
    EXPECT_TRUE((*results)[i].ok()) << i;
  }
  EXPECT_EQ(ErrorCodeOf((*results)[3].status()), ErrorCode::kHandlerNotFound);
  EXPECT_EQ((*results)[3].status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrorCodeOf((*results)[17].status()),
            ErrorCode::kMalformedEnvelope);
  EXPECT_EQ(ErrorCodeOf((*results)[42].status()),
            ErrorCode::kMalformedEnvelope);
}

TEST(SendBatchTest, ServerSideValidationErrorsLandInTheirSlots) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  std::vector<v1::Envelope> envelopes = Numbered(20);
  envelopes[5].set_timestamp("2001-01-01T00:00:00Z");  // far too old
  envelopes[9].set_recipient("urn:asap:agent:BAD");
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server, 10 << 20, /*validate=*/false)
          ->SendBatch(std::move(envelopes));
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(ErrorCodeOf((*results)[5].status()), ErrorCode::kInvalidTimestamp);
  EXPECT_EQ(ErrorCodeOf((*results)[9].status()), ErrorCode::kMalformedEnvelope);
  EXPECT_TRUE((*results)[4].ok());
  EXPECT_TRUE((*results)[10].ok());
}

TEST(SendBatchTest, FailFastReturnsTheFirstErrorWithItsPosition) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  std::vector<v1::Envelope> envelopes = Numbered(30);
  envelopes[11].set_payload_type("custom.unknown");
  BatchOptions options;
  options.fail_fast = true;
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(std::move(envelopes), options);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(ErrorCodeOf(results.status()), ErrorCode::kHandlerNotFound);
  EXPECT_THAT(std::string(results.status().message()),
              HasSubstr("(batch envelope 11)"));
}

TEST(SendBatchTest, FailFastOnALocallyInvalidEnvelope) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  std::vector<v1::Envelope> envelopes = Numbered(5);
  envelopes[2].clear_recipient();
  BatchOptions options;
  options.fail_fast = true;
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(std::move(envelopes), options);
  EXPECT_EQ(ErrorCodeOf(results.status()), ErrorCode::kMalformedEnvelope);
  EXPECT_THAT(std::string(results.status().message()),
              HasSubstr("(batch envelope 2)"));
}

TEST(SendBatchTest, EmptyBatchIsInvalidArgument) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  EXPECT_EQ(ClientFor(*server)->SendBatch({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SendBatchTest, BatchLargerThanTheMessageLimitIsSplitIntoFrames) {
  ServerOptions options;
  options.max_message_bytes = 64 * 1024;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  auto client = ClientFor(*server, 64 * 1024);
  std::vector<v1::Envelope> envelopes;
  for (int i = 0; i < 200; ++i) {
    envelopes.push_back(TaskRequest(absl::StrCat(i, std::string(2000, 'x'))));
  }
  // ~400 KB in all: more than six times the limit.
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(std::move(envelopes));
  ASSERT_TRUE(results.ok()) << results.status();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(EchoedText(*(*results)[i]).substr(0, 3).find(absl::StrCat(i)),
              0u);
  }
}

TEST(SendBatchTest, EnvelopeOverTheMessageLimitFailsAlone) {
  ServerOptions options;
  options.max_message_bytes = 64 * 1024;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  std::vector<v1::Envelope> envelopes = Numbered(3);
  envelopes[1] = TaskRequest(std::string(100 * 1024, 'x'));
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server, 64 * 1024)->SendBatch(std::move(envelopes));
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_EQ(ErrorCodeOf((*results)[1].status()), ErrorCode::kPayloadTooLarge);
  EXPECT_TRUE((*results)[2].ok());
}

TEST(SendBatchTest, HundredThousandEnvelopes) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(Numbered(100000));
  ASSERT_TRUE(results.ok()) << results.status();
  int ok = 0;
  for (const auto& r : *results) ok += r.ok();
  EXPECT_EQ(ok, 100000);
  EXPECT_EQ(EchoedText(*(*results)[99999]), "99999");
}

TEST(SendBatchTest, ServerStoppedMidBatchAccountsForEveryEnvelope) {
  std::atomic<int> handled{0};
  AsapServer* server_ptr = nullptr;
  std::thread stopper;
  absl::Mutex mu;
  auto server = testing::StartTestServer(testing::EchoAfter([&] {
    if (++handled == 100) {
      absl::MutexLock lock(&mu);
      stopper = std::thread(
          [&server_ptr] { server_ptr->Shutdown(absl::Milliseconds(50)); });
    }
    absl::SleepFor(absl::Microseconds(200));
  }));
  server_ptr = server.get();
  BatchOptions options;
  options.max_envelopes_per_frame = 10;
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(Numbered(5000), options);
  {
    absl::MutexLock lock(&mu);
    if (stopper.joinable()) stopper.join();
  }
  ASSERT_TRUE(results.ok()) << results.status();
  int ok = 0, failed = 0;
  for (const auto& r : *results) {
    if (r.ok()) {
      ++ok;
    } else {
      ++failed;
      // Every failure names what happened to the stream, never "not sent".
      EXPECT_THAT(std::string(r.status().message()), HasSubstr("asap:"));
      EXPECT_THAT(std::string(r.status().message()),
                  ::testing::Not(HasSubstr("not sent")));
    }
  }
  // Every envelope is accounted for: answered, or failed with the stream's
  // error. (How many answers beat the 50 ms grace depends on the machine.)
  EXPECT_EQ(ok + failed, 5000);
  EXPECT_GT(failed, 0);
}

TEST(SendBatchTest, DeadlineCancelsTheRestAndSaysSo) {
  ServerOptions server_options;
  server_options.batch_workers = 1;
  auto server = testing::StartTestServer(
      testing::EchoAfter([] { absl::SleepFor(absl::Milliseconds(20)); }),
      std::move(server_options));
  BatchOptions options;
  options.timeout = absl::Milliseconds(300);
  options.max_envelopes_per_frame = 1;
  absl::StatusOr<AsapClient::BatchResults> results =
      ClientFor(*server)->SendBatch(Numbered(200), options);
  ASSERT_TRUE(results.ok()) << results.status();
  int ok = 0, deadline = 0;
  for (const auto& r : *results) {
    if (r.ok()) ++ok;
    if (ErrorCodeOf(r.status()) == ErrorCode::kDeadlineExceeded) ++deadline;
    if (!r.ok() && ErrorCodeOf(r.status()) != ErrorCode::kDeadlineExceeded) {
      ADD_FAILURE() << r.status();
      break;
    }
  }
  EXPECT_EQ(ok + deadline, 200);
  EXPECT_GT(deadline, 0);
}

}  // namespace
}  // namespace asap

namespace asap {
namespace {

// Bytes counted on the wire by a relay: ~160 KB of compressible envelopes
// travel in both directions as a few KB each way.
TEST(SendBatchCompressionTest, FramesAndResultsAreCompressed) {
  auto server = testing::StartTestServer(asap::EchoHandlers());
  auto relay = *bench::ByteCountingRelay::Start("127.0.0.1", server->port());
  ClientOptions options;
  options.target = relay->address();
  options.timeout = absl::Seconds(60);
  auto client = *AsapClient::Create(options);
  // A first call teaches the client what the server decodes.
  ASSERT_TRUE(client->Send(TaskRequest("hello")).ok());
  ASSERT_THAT(client->compression_stats().server_encodings,
              ::testing::HasSubstr("br"));
  std::vector<v1::Envelope> envelopes;
  for (int i = 0; i < 40; ++i) {
    envelopes.push_back(TaskRequest(std::string(4000, 'a' + i % 26)));
  }
  BatchOptions batch;
  batch.max_envelopes_per_frame = 20;
  batch.max_frame_bytes = 512 * 1024;  // two ~80 KB frames
  relay->Reset();
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(std::move(envelopes), batch);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 40u);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(EchoedText(*(*results)[i]), std::string(4000, 'a' + i % 26));
  }
  EXPECT_LT(relay->client_to_server_bytes(), 40'000u);
  EXPECT_LT(relay->server_to_client_bytes(), 40'000u);
}

TEST(SendBatchCompressionTest, NoCompressionBeforeTheServerAdvertisedIt) {
  ServerOptions server_options;
  server_options.max_message_bytes = 64 * 1024;
  auto server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(server_options));
  auto client = ClientFor(*server, /*max_message_bytes=*/1 << 20);
  std::vector<v1::Envelope> envelopes;
  for (int i = 0; i < 40; ++i) {
    envelopes.push_back(TaskRequest(std::string(4000, 'z')));
  }
  BatchOptions batch;
  batch.max_envelopes_per_frame = 40;
  batch.max_frame_bytes = 512 * 1024;
  absl::StatusOr<AsapClient::BatchResults> results =
      client->SendBatch(std::move(envelopes), batch);
  // Sent as is, the frame passes the server's limit: the stream fails with
  // payload_too_large and every envelope carries that error.
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(ErrorCodeOf((*results)[0].status()), ErrorCode::kPayloadTooLarge)
      << (*results)[0].status();
}

}  // namespace
}  // namespace asap
