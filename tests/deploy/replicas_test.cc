// Three replicas of the echo agent (tests/testing/replica_agent, each its own
// process) sharing one redis-server, behind a real nginx: gRPC through
// `grpc_pass` on an HTTP/2 listener, the HTTP binding through `proxy_pass` on
// keep-alive connections. The deployment docs/DEPLOYMENT.md describes,
// exercised end to end: every call of the client through the proxy, nonces
// and handler runs shared by the replicas, replicas SIGKILLed in the middle of
// calls and of a batch, Redis going away.
//
// A handler run is counted from the replicas' run logs (one line per handler
// start, written before the handler's delay, so the count survives SIGKILL);
// every answer says which replica's run produced it (extensions.replica_port),
// stored answers included.
#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/ids.h"
#include "client/asap_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/nginx_process.h"
#include "tests/testing/redis_process.h"
#include "tests/testing/replica_set.h"

namespace asap {
namespace {

using ::testing::HasSubstr;

constexpr int kReplicas = 3;

// Which replica's handler run produced `response` (-1: not marked).
int AnsweringPort(const v1::Envelope& response) {
  auto it = response.extensions().fields().find("replica_port");
  if (it == response.extensions().fields().end()) return -1;
  return static_cast<int>(it->second.number_value());
}

v1::Envelope Request(const std::string& text, const std::string& nonce = "") {
  v1::Envelope request = asap::testing::EchoRequest(text);
  request.set_id(NewUlid());
  if (!nonce.empty()) {
    (*request.mutable_extensions()->mutable_fields())["nonce"].set_string_value(
        nonce);
  }
  return request;
}

class ReplicasTest : public ::testing::Test {
 protected:
  // Redis, the replicas (each handler sleeping `handler_delay`) and nginx.
  void Deploy(absl::Duration handler_delay = absl::ZeroDuration(),
              bool redis_fail_open = false) {
    ASSERT_TRUE(redis_.Start()) << "redis-server did not start";
    testing::ReplicaSetOptions options;
    options.replicas = kReplicas;
    options.redis_url = redis_.url();
    options.redis_fail_open = redis_fail_open;
    options.handler_delay = handler_delay;
    auto replicas = testing::ReplicaSet::Start(options);
    ASSERT_TRUE(replicas.ok()) << replicas.status();
    replicas_ = *std::move(replicas);
    testing::NginxOptions nginx;
    nginx.grpc_upstreams = replicas_->grpc_addresses();
    nginx.http_upstreams = replicas_->http_addresses();
    auto started = testing::NginxProcess::Start(nginx);
    ASSERT_TRUE(started.ok()) << started.status();
    nginx_ = *std::move(started);
  }

  // The two ways into the deployment: gRPC and the HTTP binding, both
  // through nginx.
  std::vector<std::string> NginxTargets() const {
    return {nginx_->grpc_target(), nginx_->http_url()};
  }

  static ClientOptions Options(const std::string& target) {
    ClientOptions options;
    options.target = target;
    options.timeout = absl::Seconds(20);
    return options;
  }

  static std::unique_ptr<AsapClient> Client(ClientOptions options) {
    auto client = AsapClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  static std::unique_ptr<AsapClient> Client(const std::string& target) {
    return Client(Options(target));
  }

  int TotalRuns(const std::string& id) const {
    std::vector<int> runs = replicas_->RunsOf(id);
    int total = 0;
    for (int count : runs) total += count;
    return total;
  }

  // Sends `request` through `target` in the background, waits for a handler
  // to start on some replica, SIGKILLs that replica, and returns the call's
  // result (which the client's or nginx's retry must have completed on
  // another replica) and the replica killed. The handlers' delay keeps the
  // kill inside the handler run; whether it landed there is read from the
  // answer (AnsweringPort), not assumed.
  std::pair<absl::StatusOr<v1::Envelope>, int> SendAndKillItsReplica(
      const std::string& target, const v1::Envelope& request) {
    std::unique_ptr<AsapClient> client = Client(target);
    if (client == nullptr) return {absl::InternalError("no client"), -1};
    std::future<absl::StatusOr<v1::Envelope>> call =
        std::async(std::launch::async, [&] { return client->Send(request); });
    absl::StatusOr<int> holder =
        replicas_->WaitForRun(request.id(), absl::Seconds(10));
    if (!holder.ok()) return {holder.status(), -1};
    replicas_->Kill(*holder);
    return {call.get(), *holder};
  }

  // The handler-run invariant of one envelope whose first replica was
  // killed: the killed replica ran it once; when the answer came from
  // another replica, the kill cut that first run short and exactly one
  // other replica ran it to completion; when it came from the killed replica
  // (the kill landed after its run had been stored), no other replica ran it.
  void ExpectOneCompletedRun(const std::string& id,
                             const v1::Envelope& response, int killed) {
    std::vector<int> runs = replicas_->RunsOf(id);
    int answered_by = replicas_->IndexOfPort(AnsweringPort(response));
    ASSERT_GE(answered_by, 0) << "unmarked answer";
    EXPECT_EQ(runs[killed], 1);
    int elsewhere = TotalRuns(id) - runs[killed];
    std::cout << "killed replica " << killed << ", answered by replica "
              << answered_by << ", handler starts per replica:";
    for (int count : runs) std::cout << " " << count;
    std::cout << "\n";
    if (answered_by == killed) {
      EXPECT_EQ(elsewhere, 0);
    } else {
      EXPECT_EQ(runs[answered_by], 1);
      EXPECT_EQ(elsewhere, 1);
    }
  }

  void SendBatchAndKillItsReplica(const std::string& target);

  testing::RedisProcess redis_;
  std::unique_ptr<testing::ReplicaSet> replicas_;
  std::unique_ptr<testing::NginxProcess> nginx_;
};

TEST_F(ReplicasTest, SendThroughNginxOnBothBindings) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  for (const std::string& target : NginxTargets()) {
    SCOPED_TRACE(target);
    std::unique_ptr<AsapClient> client = Client(target);
    ASSERT_NE(client, nullptr);
    // Round robin: the answers come from more than one replica.
    std::vector<int> answered(kReplicas, 0);
    for (int i = 0; i < 6; ++i) {
      v1::Envelope request = Request(absl::StrCat("hello ", i));
      absl::StatusOr<v1::Envelope> response = client->Send(request);
      ASSERT_TRUE(response.ok()) << response.status();
      EXPECT_EQ(asap::testing::EchoedText(*response),
                absl::StrCat("hello ", i));
      EXPECT_EQ(response->correlation_id(), request.id());
      int replica = replicas_->IndexOfPort(AnsweringPort(*response));
      ASSERT_GE(replica, 0);
      ++answered[replica];
      EXPECT_EQ(TotalRuns(request.id()), 1);
    }
    // nginx's HTTP port speaks HTTP/1.1 only; the client found that out.
    if (target == nginx_->http_url()) {
      EXPECT_EQ(client->http_stats().protocol, "http/1.1");
    }
    EXPECT_LT(*std::max_element(answered.begin(), answered.end()), 6)
        << "every call went to one replica";
  }
}

TEST_F(ReplicasTest, SendBatchThroughNginxOnBothBindings) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  for (const std::string& target : NginxTargets()) {
    SCOPED_TRACE(target);
    std::unique_ptr<AsapClient> client = Client(target);
    ASSERT_NE(client, nullptr);
    std::vector<v1::Envelope> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(Request(absl::StrCat(i)));
    absl::StatusOr<AsapClient::BatchResults> results = client->SendBatch(batch);
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      ASSERT_TRUE((*results)[i].ok()) << i << ": " << (*results)[i].status();
      EXPECT_EQ((*results)[i]->correlation_id(), batch[i].id());
      EXPECT_EQ(asap::testing::EchoedText(*(*results)[i]), absl::StrCat(i));
    }
  }
}

TEST_F(ReplicasTest, ManifestIsFetchedOnceThroughNginx) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  for (const std::string& target : NginxTargets()) {
    SCOPED_TRACE(target);
    std::unique_ptr<AsapClient> client = Client(target);
    ASSERT_NE(client, nullptr);
    absl::StatusOr<v1::Manifest> first = client->GetManifest();
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(first->id(), "urn:asap:agent:echo");
    absl::StatusOr<v1::Manifest> second = client->GetManifest();
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(second->id(), first->id());
    ASSERT_NE(client->manifest_cache(), nullptr);
    ManifestCache::Stats stats = client->manifest_cache()->stats();
    EXPECT_EQ(stats.fetches, 1u);
    EXPECT_GE(stats.hits, 1u);
  }
}

TEST_F(ReplicasTest, SendStreamThroughNginxOnBothBindings) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  for (const std::string& target : NginxTargets()) {
    SCOPED_TRACE(target);
    std::unique_ptr<AsapClient> client = Client(target);
    ASSERT_NE(client, nullptr);
    v1::Envelope request = Request("unused");
    request.set_payload_type("echo.stream");
    request.mutable_payload()->clear_fields();
    auto& fields = *request.mutable_payload()->mutable_fields();
    fields["text"].set_string_value("streamed");
    fields["steps"].set_number_value(4);
    std::vector<std::string> updates;
    absl::StatusOr<v1::Envelope> response =
        client->SendStream(request, [&](const v1::Envelope& update) {
          updates.push_back(update.payload_type());
        });
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(updates, std::vector<std::string>(4, "task.update"));
    EXPECT_EQ(asap::testing::EchoedText(*response), "streamed");
    EXPECT_EQ(TotalRuns(request.id()), 1);
  }
}

TEST_F(ReplicasTest, GzipBodiesThroughNginxOnBothBindings) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  const std::string text(64 * 1024, 'g');
  for (const std::string& target : NginxTargets()) {
    SCOPED_TRACE(target);
    ClientOptions options = Options(target);
    options.compression.algorithm = Compression::kGzip;
    options.compression.accept_encoding = {Compression::kGzip};
    std::unique_ptr<AsapClient> client = Client(options);
    ASSERT_NE(client, nullptr);
    // Over gRPC the first call learns what the agent decodes (its
    // asap-accept-encoding, which nginx passes on); later ones compress.
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<v1::Envelope> response = client->Send(Request(text));
      ASSERT_TRUE(response.ok()) << response.status();
      EXPECT_EQ(asap::testing::EchoedText(*response), text);
    }
    AsapClient::CompressionStats stats = client->compression_stats();
    EXPECT_GE(stats.requests_compressed, 2u);
    EXPECT_LT(stats.request_bytes_sent, stats.request_bytes_raw / 10);
    EXPECT_GE(stats.responses_compressed, 2u);
  }
}

TEST_F(ReplicasTest, NonceIsRefusedOnEveryReplicaAndThroughNginx) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  const std::string nonce = NewUlid();
  v1::Envelope first = Request("first", nonce);
  ASSERT_TRUE(Client(replicas_->grpc_address(0))->Send(first).ok());
  std::vector<std::string> targets = {
      replicas_->grpc_address(1),
      absl::StrCat("http://", replicas_->http_address(1)),
      replicas_->grpc_address(2),
      absl::StrCat("http://", replicas_->http_address(2)),
      absl::StrCat("http://", replicas_->http_address(0)),
  };
  for (const std::string& target : NginxTargets()) targets.push_back(target);
  for (const std::string& target : targets) {
    v1::Envelope replay = Request("replay", nonce);
    absl::StatusOr<v1::Envelope> refused = Client(target)->Send(replay);
    EXPECT_EQ(ErrorCodeOf(refused.status()), ErrorCode::kInvalidNonce)
        << target << ": " << refused.status();
    EXPECT_EQ(TotalRuns(replay.id()), 0) << target;
  }
  EXPECT_EQ(replicas_->RunsOf(first.id()), (std::vector<int>{1, 0, 0}));
}

// Killed after the handler's answer was stored: the retry, on another
// replica, gets that answer and no handler runs again.
TEST_F(ReplicasTest, RetryAfterTheReplicaDiedGetsTheStoredAnswer) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  v1::Envelope request = Request("stored", NewUlid());
  absl::StatusOr<v1::Envelope> first =
      Client(replicas_->grpc_address(0))->Send(request);
  ASSERT_TRUE(first.ok()) << first.status();
  replicas_->Kill(0);
  std::vector<std::string> targets = NginxTargets();
  targets.push_back(replicas_->grpc_target());
  for (const std::string& target : targets) {
    absl::StatusOr<v1::Envelope> retry = Client(target)->Send(request);
    ASSERT_TRUE(retry.ok()) << target << ": " << retry.status();
    EXPECT_EQ(retry->id(), first->id()) << target;
    EXPECT_EQ(AnsweringPort(*retry), AnsweringPort(*first)) << target;
  }
  EXPECT_EQ(replicas_->RunsOf(request.id()), (std::vector<int>{1, 0, 0}));
}

// Killed while its handler runs: nginx (or the client, on the 502 nginx
// answers) sends the envelope again, same id, to another replica, which
// waits for the dead replica's claim to lapse and then runs the handler to
// completion. Two runs are logged; one completed, and the client got its
// answer.
TEST_F(ReplicasTest, KilledMidHandlerThroughNginxCompletesOnce) {
  ASSERT_NO_FATAL_FAILURE(Deploy(absl::Seconds(1)));
  v1::Envelope request = Request("killed mid-handler");
  auto [response, killed] =
      SendAndKillItsReplica(nginx_->grpc_target(), request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(asap::testing::EchoedText(*response), "killed mid-handler");
  ExpectOneCompletedRun(request.id(), *response, killed);
}

// The same over the HTTP binding: nginx holds the whole request, so nginx
// itself resends it to the next replica when the first one dies.
TEST_F(ReplicasTest, KilledMidHandlerThroughNginxHttpCompletesOnce) {
  ASSERT_NO_FATAL_FAILURE(Deploy(absl::Seconds(1)));
  v1::Envelope request = Request("killed over http", NewUlid());
  auto [response, killed] = SendAndKillItsReplica(nginx_->http_url(), request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(asap::testing::EchoedText(*response), "killed over http");
  ExpectOneCompletedRun(request.id(), *response, killed);
}

// The same through the client's own balancing over the replicas, with a
// nonce: the retry carries the same nonce and id, and is not refused as a
// replay of itself.
TEST_F(ReplicasTest, KilledMidHandlerWithNonceBalancedByTheClient) {
  ASSERT_NO_FATAL_FAILURE(Deploy(absl::Seconds(1)));
  v1::Envelope request = Request("killed with a nonce", NewUlid());
  auto [response, killed] =
      SendAndKillItsReplica(replicas_->grpc_target(), request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(asap::testing::EchoedText(*response), "killed with a nonce");
  ExpectOneCompletedRun(request.id(), *response, killed);
}

// A batch of 10,000 envelopes on one SendBatch stream to `target`; the
// replica serving the stream is SIGKILLed part-way. Every position gets one
// answer, and every envelope has exactly one completed handler run: the
// only envelopes run twice are those whose handler was running on the
// killed replica at the kill (at most its handler threads), each run once
// more on another replica, never twice there.
void ReplicasTest::SendBatchAndKillItsReplica(const std::string& target) {
  constexpr int kEnvelopes = 10000;
  std::vector<v1::Envelope> batch;
  for (int i = 0; i < kEnvelopes; ++i)
    batch.push_back(Request(absl::StrCat(i)));
  ClientOptions options = Options(target);
  options.timeout = absl::Seconds(40);
  std::unique_ptr<AsapClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  std::future<absl::StatusOr<AsapClient::BatchResults>> call =
      std::async(std::launch::async, [&] { return client->SendBatch(batch); });

  // Kill whichever replica serves the stream once a tenth of the batch has
  // run there.
  int killed = -1;
  absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (killed < 0 && absl::Now() < give_up &&
         call.wait_for(std::chrono::milliseconds(2)) !=
             std::future_status::ready) {
    for (int i = 0; i < kReplicas; ++i) {
      if (replicas_->TotalRuns(i) >= kEnvelopes / 10) {
        replicas_->Kill(i);
        killed = i;
        break;
      }
    }
  }
  ASSERT_GE(killed, 0) << "the batch ended before a replica had run a tenth "
                          "of it (or within 30 s)";
  absl::StatusOr<AsapClient::BatchResults> results = call.get();
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), batch.size());
  int failed = 0;
  absl::Status first_failure;
  for (const auto& result : *results) {
    if (!result.ok() && failed++ == 0) first_failure = result.status();
  }
  EXPECT_EQ(failed, 0) << "positions without an answer; the first: "
                       << first_failure;

  std::vector<absl::flat_hash_map<std::string, int>> counts;
  for (int i = 0; i < kReplicas; ++i) counts.push_back(replicas_->RunCounts(i));
  int runs = 0;
  int cut_short = 0;
  for (int i = 0; i < kEnvelopes; ++i) {
    const std::string& id = batch[i].id();
    int on_killed = 0;
    int elsewhere = 0;
    for (int r = 0; r < kReplicas; ++r) {
      auto it = counts[r].find(id);
      int n = it == counts[r].end() ? 0 : it->second;
      (r == killed ? on_killed : elsewhere) += n;
    }
    runs += on_killed + elsewhere;
    ASSERT_LE(on_killed, 1) << "position " << i;
    ASSERT_LE(elsewhere, 1) << "position " << i;
    ASSERT_GE(on_killed + elsewhere, 1) << "position " << i << " never ran";
    if (on_killed + elsewhere == 2) ++cut_short;
    if ((*results)[i].ok()) {
      int answered_by = replicas_->IndexOfPort(AnsweringPort(*(*results)[i]));
      // An answer from a live replica is its one run; an answer from the
      // killed one was stored before the kill and nobody ran it again.
      EXPECT_EQ(elsewhere, answered_by == killed ? 0 : 1) << "position " << i;
    }
  }
  // Each envelope cut short was running on one of the killed replica's
  // handler threads (8 per core, at least 16).
  EXPECT_LE(
      cut_short,
      std::max(16, 8 * static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_EQ(runs, kEnvelopes + cut_short);
  std::cout << "batch: killed replica " << killed << ", " << runs
            << " handler runs for " << kEnvelopes << " envelopes, " << cut_short
            << " cut short by the kill and run again\n";
}

TEST_F(ReplicasTest, BatchThroughNginxSurvivesAReplicaKilledPartWay) {
  ASSERT_NO_FATAL_FAILURE(Deploy(absl::Milliseconds(2)));
  SendBatchAndKillItsReplica(nginx_->grpc_target());
}

TEST_F(ReplicasTest, BatchBalancedByTheClientSurvivesAReplicaKilledPartWay) {
  ASSERT_NO_FATAL_FAILURE(Deploy(absl::Milliseconds(2)));
  SendBatchAndKillItsReplica(replicas_->grpc_target());
}

TEST_F(ReplicasTest, RedisDownFailClosedRefusesThroughNginx) {
  ASSERT_NO_FATAL_FAILURE(Deploy());
  for (const std::string& target : NginxTargets()) {
    ASSERT_TRUE(Client(target)->Send(Request("up")).ok()) << target;
  }
  redis_.Kill();
  for (const std::string& target : NginxTargets()) {
    ClientOptions options = Options(target);
    // The refusal is UNAVAILABLE, which clients retry; once is enough here.
    options.retry.max_retries = 0;
    options.http.retry.max_retries = 0;
    v1::Envelope request = Request("down", NewUlid());
    absl::StatusOr<v1::Envelope> refused = Client(options)->Send(request);
    EXPECT_EQ(ErrorCodeOf(refused.status()), ErrorCode::kUnavailable)
        << target << ": " << refused.status();
    EXPECT_THAT(std::string(refused.status().message()),
                HasSubstr("store unavailable"))
        << target;
    EXPECT_EQ(TotalRuns(request.id()), 0) << target;
  }
}

TEST_F(ReplicasTest, RedisDownFailOpenServesThroughNginx) {
  ASSERT_NO_FATAL_FAILURE(
      Deploy(absl::ZeroDuration(), /*redis_fail_open=*/true));
  redis_.Kill();
  for (const std::string& target : NginxTargets()) {
    v1::Envelope request = Request("still up", NewUlid());
    absl::StatusOr<v1::Envelope> response = Client(target)->Send(request);
    ASSERT_TRUE(response.ok()) << target << ": " << response.status();
    EXPECT_EQ(asap::testing::EchoedText(*response), "still up");
    EXPECT_EQ(TotalRuns(request.id()), 1) << target;
  }
}

}  // namespace
}  // namespace asap
