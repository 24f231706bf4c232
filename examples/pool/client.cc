// The connection pool: every call borrows a stream from the client's pool
// (client/channel_pool.h). pool_connections stay open when idle, at most
// pool_maxsize connections are opened, each carries max_streams_per_connection
// calls at once, and a call that finds no free stream waits pool_timeout,
// then fails with asap:transport/pool_exhausted. The same code runs on gRPC
// (a ChannelPool of channels) and on the HTTP binding (libcurl connections).
//
//   bazel run //examples/pool:client -- 127.0.0.1:50051 http://127.0.0.1:8080
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"
#include "examples/common/echo_task.h"
#include "examples/common/run_on_targets.h"

namespace {

using ::asap::examples::EchoStreamRequest;
using ::asap::examples::EchoTaskRequest;

constexpr char kSender[] = "urn:asap:agent:pool-example";

void PrintStats(const std::string& target, const asap::AsapClient& client) {
  asap::ChannelPool::Stats stats = client.pool_stats();
  std::cout << target << ":   pool_stats: " << stats.connections_opened
            << " connections opened, " << stats.leases << " calls served, "
            << stats.waits << " waited for a stream, " << stats.timeouts
            << " refused (pool_exhausted)\n";
}

// 1. 200 calls in flight from one thread, over a pool of at most 4
// connections of 10 streams each: 40 at a time, the rest wait their turn.
// (Over h2c the HTTP binding keeps to one connection: 10 at a time.)
absl::Status ManyCalls(const std::string& target) {
  asap::ClientOptions options;
  options.target = target;
  options.pool.pool_connections = 2;  // kept open when idle
  options.pool.pool_maxsize = 4;      // opened at most
  options.pool.max_streams_per_connection = 10;
  options.pool.pool_timeout = absl::Seconds(5);

  // Declared before the client, whose destructor waits for every callback.
  constexpr int kCalls = 200;
  absl::BlockingCounter done(kCalls);
  absl::Mutex mu;
  absl::Status first_error;
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    // Returns at once while the pool has a free stream; otherwise waits for
    // one (at most pool_timeout).
    client->SendAsync(EchoTaskRequest("call", {.sender = kSender}),
                      [&](absl::StatusOr<asap::v1::Envelope> response) {
                        absl::MutexLock lock(&mu);
                        if (!response.ok() && first_error.ok()) {
                          first_error = response.status();
                        }
                        done.DecrementCount();
                      });
  }
  done.Wait();
  ASAP_RETURN_IF_ERROR(first_error);
  std::cout << target << ": " << kCalls
            << " concurrent SendAsync calls, all answered, in "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
            << "\n";
  PrintStats(target, *client);
  return absl::OkStatus();
}

// 2. A pool of exactly one stream. Over gRPC an echo.stream call holds it
// until SendStream returns, so a Send made from its update callback waits
// pool_timeout and is refused. (Over HTTP a stream's connection goes back to
// the pool as soon as the response has arrived, which for the echo agent is
// at once: nothing holds it, and pool_timeout only bounds real waits.)
absl::Status PoolTimeout(const std::string& target) {
  if (absl::StartsWith(target, "http")) {
    std::cout << target << ": (pool_timeout refusal shown on gRPC only)\n";
    return absl::OkStatus();
  }
  asap::ClientOptions options;
  options.target = target;
  options.pool.pool_connections = 1;
  options.pool.pool_maxsize = 1;
  options.pool.max_streams_per_connection = 1;
  options.pool.pool_timeout = absl::Milliseconds(200);
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));

  asap::v1::Envelope stream =
      EchoStreamRequest("holding the only stream", 1, {.sender = kSender});

  // One step: one task.update, and the callback runs once.
  absl::Status refused;
  absl::Duration waited;
  auto send_meanwhile = [&](const asap::v1::Envelope& /*update*/) {
    // Inside SendStream: its stream is still taken.
    const absl::Time start = absl::Now();
    refused =
        client->Send(EchoTaskRequest("no room", {.sender = kSender})).status();
    waited = absl::Now() - start;
  };
  ASAP_RETURN_IF_ERROR(client->SendStream(stream, send_meanwhile).status());
  if (asap::ErrorCodeOf(refused) != asap::ErrorCode::kPoolExhausted) {
    return absl::InternalError(
        absl::StrCat("expected pool_exhausted, got: ", refused.ToString()));
  }
  std::cout << target << ": during the stream, Send waited "
            << absl::FormatDuration(absl::Trunc(waited, absl::Milliseconds(1)))
            << " and got: " << refused.message() << "\n";

  // With the stream returned to the pool, the same Send goes through.
  ASAP_RETURN_IF_ERROR(
      client->Send(EchoTaskRequest("room now", {.sender = kSender})).status());
  std::cout << target << ": after the stream, the same Send is answered\n";
  PrintStats(target, *client);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return asap::examples::RunOnTargets(
      argc, argv, [](const std::string& target) -> absl::Status {
        ASAP_RETURN_IF_ERROR(ManyCalls(target));
        return PoolTimeout(target);
      });
}
