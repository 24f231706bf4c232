// SendBatch over replicas that share an idempotency store: a replica that
// drains in the middle of a batch (graceful shutdown) ends its stream once
// the frames it read are answered, telling the client to go elsewhere, and
// the client resends only the envelopes that have no result, on another
// replica. Every envelope gets one result and runs its handler once.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "client/client_metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "server/state/idempotency_store.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

// Upper bound on every wait: a deadlock guard, not a timing threshold.
constexpr absl::Duration kWaitBound = absl::Seconds(60);

class BatchResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<InMemoryIdempotencyStore>(absl::Seconds(330));
    for (int i = 0; i < 2; ++i) {
      HandlerRegistry handlers;
      ASSERT_TRUE(handlers
                      .Register("task.request",
                                [this, i](const v1::Envelope& request,
                                          const HandlerContext& context)
                                    -> absl::StatusOr<v1::Envelope> {
                                  {
                                    absl::MutexLock lock(&mu_);
                                    ++runs_[request.id()];
                                  }
                                  ++served_[i];
                                  // Long enough for the batch to be in
                                  // the middle when the replica drains.
                                  absl::SleepFor(absl::Microseconds(500));
                                  return asap::EchoTask(request,
                                                        context.manifest());
                                })
                      .ok());
      ServerOptions options;
      options.idempotency_store = store_;
      servers_[i] =
          testing::StartTestServer(std::move(handlers), std::move(options));
      ASSERT_NE(servers_[i], nullptr);
    }
  }

  std::string Target() const {
    return absl::StrCat("ipv4:127.0.0.1:", servers_[0]->port(),
                        ",127.0.0.1:", servers_[1]->port());
  }

  std::shared_ptr<InMemoryIdempotencyStore> store_;
  std::unique_ptr<AsapServer> servers_[2];
  std::atomic<int> served_[2] = {0, 0};
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> runs_ ABSL_GUARDED_BY(mu_);
};

TEST_F(BatchResumeTest, ADrainingReplicaHandsTheRestOfTheBatchToAnother) {
  ClientOptions options;
  options.target = Target();
  options.timeout = kWaitBound;
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(std::move(options));
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kEnvelopes = 4000;
  std::vector<v1::Envelope> batch;
  std::vector<std::string> ids;
  for (int i = 0; i < kEnvelopes; ++i) {
    batch.push_back(asap::testing::EchoRequest(absl::StrCat("e", i)));
    batch.back().set_id(absl::StrCat("batch-resume-", i));
    ids.push_back(batch.back().id());
  }
  absl::StatusOr<AsapClient::BatchResults> results;
  std::thread sending(
      [&] { results = (*client)->SendBatch(std::move(batch)); });
  // Drains the replica that serves the batch once it has run some of it.
  absl::Time give_up = absl::Now() + kWaitBound;
  while (served_[0] + served_[1] < 200 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  int busy = served_[0] >= served_[1] ? 0 : 1;
  servers_[busy]->Shutdown(kWaitBound);
  sending.join();

  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), static_cast<size_t>(kEnvelopes));
  for (int i = 0; i < kEnvelopes; ++i) {
    ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
    EXPECT_EQ(asap::testing::EchoedText(*(*results)[i]), absl::StrCat("e", i));
  }
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(runs_.size(), static_cast<size_t>(kEnvelopes));
  for (const std::string& id : ids) {
    ASSERT_EQ(runs_[id], 1) << id;
  }
  // The replica that drained ran part of the batch, the other the rest.
  EXPECT_GT(served_[busy], 0);
  EXPECT_GT(served_[1 - busy], 0);
  EXPECT_LT(served_[busy], kEnvelopes);
  AsapClient::RetryStats stats = (*client)->retry_stats();
  EXPECT_GE(stats.batch_resumes, 1u);
  EXPECT_GT(stats.batch_envelopes_resent, 0u);
  EXPECT_LT(stats.batch_envelopes_resent, static_cast<uint64_t>(kEnvelopes));
  // The same counters, for the application's /metrics.
  std::string metrics = ClientMetricsText(**client);
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat(
                           "asap_client_batch_resumes_total{target=\"",
                           Target(), "\"} ", stats.batch_resumes, "\n")));
  EXPECT_THAT(metrics,
              HasSubstr(absl::StrCat(
                  "asap_client_batch_envelopes_resent_total{target=\"",
                  Target(), "\"} ", stats.batch_envelopes_resent, "\n")));
  EXPECT_THAT(metrics, HasSubstr("# TYPE asap_client_retries_total counter\n"));
}

TEST_F(BatchResumeTest, NoResumeWhenRetriesAreOff) {
  ClientOptions options;
  options.target = Target();
  options.timeout = kWaitBound;
  options.retry.max_retries = 0;
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(std::move(options));
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kEnvelopes = 4000;
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < kEnvelopes; ++i) {
    batch.push_back(asap::testing::EchoRequest(absl::StrCat("e", i)));
  }
  absl::StatusOr<AsapClient::BatchResults> results;
  std::thread sending(
      [&] { results = (*client)->SendBatch(std::move(batch)); });
  absl::Time give_up = absl::Now() + kWaitBound;
  while (served_[0] + served_[1] < 200 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  int busy = served_[0] >= served_[1] ? 0 : 1;
  servers_[busy]->Shutdown(kWaitBound);
  sending.join();
  ASSERT_TRUE(results.ok()) << results.status();
  // The envelopes the drained replica did not answer carry its word.
  int unanswered = 0;
  for (const absl::StatusOr<v1::Envelope>& result : *results) {
    if (result.ok()) continue;
    ++unanswered;
    EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnavailable)
        << result.status();
  }
  EXPECT_GT(unanswered, 0);
  EXPECT_EQ((*client)->retry_stats().batch_resumes, 0u);
}

}  // namespace
}  // namespace asap
