// The manifest cache wired into AsapClient as a client interceptor, against a
// real server on 127.0.0.1:0 whose GetManifest calls are counted.
#include "client/manifest_cache_interceptor.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <thread>
#include <vector>

#include "asap/errors.h"
#include "asap/time/fake_clock.h"
#include "asap/v1/service.grpc.pb.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/client/private_socket.h"
#include "tests/testing/echo_requests.h"

namespace asap {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Counts GetManifest calls that reach the server; can hold them until
// `release_when` returns true (bounded), to make concurrent misses overlap.
class ManifestCallCounter {
 public:
  std::atomic<int> calls{0};
  std::function<bool()> release_when;

  class Interceptor : public grpc::experimental::Interceptor {
   public:
    Interceptor(ManifestCallCounter* counter) : counter_(counter) {}
    void Intercept(
        grpc::experimental::InterceptorBatchMethods* methods) override {
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
        ++counter_->calls;
        if (counter_->release_when) {
          absl::Time give_up = absl::Now() + absl::Seconds(10);
          while (!counter_->release_when() && absl::Now() < give_up) {
            absl::SleepFor(absl::Milliseconds(1));
          }
        }
      }
      methods->Proceed();
    }

   private:
    ManifestCallCounter* counter_;
  };

  class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
   public:
    explicit Factory(ManifestCallCounter* counter) : counter_(counter) {}
    grpc::experimental::Interceptor* CreateServerInterceptor(
        grpc::experimental::ServerRpcInfo* info) override {
      if (std::string(info->method()) != "/asap.v1.AsapService/GetManifest") {
        return nullptr;
      }
      return new Interceptor(counter_);
    }

   private:
    ManifestCallCounter* counter_;
  };
};

struct Agent {
  ManifestCallCounter counter;
  std::unique_ptr<AsapServer> server;
};

std::unique_ptr<Agent> StartAgent(absl::Duration max_age = {},
                                  std::string address = "127.0.0.1:0") {
  auto agent = std::make_unique<Agent>();
  ServerOptions options;
  options.address = address;
  options.manifest = asap::EchoManifest("");
  options.manifest_max_age = max_age;
  options.interceptors.push_back(
      std::make_unique<ManifestCallCounter::Factory>(&agent->counter));
  auto server = AsapServer::Start(std::move(options), asap::EchoHandlers());
  EXPECT_TRUE(server.ok()) << server.status();
  agent->server = *std::move(server);
  return agent;
}

std::unique_ptr<AsapClient> ClientFor(const std::string& target,
                                      const Clock* clock = nullptr,
                                      bool enabled = true) {
  ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(10);
  options.manifest_cache.clock = clock;
  options.manifest_cache.enabled = enabled;
  return *AsapClient::Create(options);
}

TEST(ManifestCacheInterceptorTest, HitsDoNotTouchTheNetwork) {
  auto agent = StartAgent();
  auto client = ClientFor(agent->server->address());
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<v1::Manifest> manifest = client->GetManifest();
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    EXPECT_EQ(manifest->id(), "urn:asap:agent:echo");
  }
  EXPECT_EQ(agent->counter.calls, 1);
  ManifestCache::Stats stats = client->manifest_cache()->stats();
  EXPECT_EQ(stats.hits, 99u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.fetches, 1u);
}

TEST(ManifestCacheInterceptorTest, DisabledCacheFetchesEveryTime) {
  auto agent = StartAgent();
  auto client = ClientFor(agent->server->address(), nullptr, false);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->counter.calls, 5);
  EXPECT_EQ(client->manifest_cache(), nullptr);
}

TEST(ManifestCacheInterceptorTest, ExpiresAfterTtl) {
  auto agent = StartAgent();
  FakeClock clock(absl::Now());
  auto client = ClientFor(agent->server->address(), &clock);
  ASSERT_TRUE(client->GetManifest().ok());
  clock.Advance(absl::Minutes(5) - absl::Nanoseconds(1));
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->counter.calls, 1);
  clock.Advance(absl::Nanoseconds(1));  // exactly at the TTL: expired
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->counter.calls, 2);
}

TEST(ManifestCacheInterceptorTest, ServerTtlHintBoundsTheEntry) {
  auto agent = StartAgent(absl::Seconds(10));
  FakeClock clock(absl::Now());
  auto client = ClientFor(agent->server->address(), &clock);
  ASSERT_TRUE(client->GetManifest().ok());
  clock.Advance(absl::Seconds(9));
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->counter.calls, 1);
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->counter.calls, 2);
}

TEST(ManifestCacheInterceptorTest, FailedFetchIsNotCached) {
  // Nothing listens there yet; the agent starts later on the same address.
  testing::PrivateSocket socket;
  std::string address = socket.address();
  auto client = ClientFor(address);
  absl::StatusOr<v1::Manifest> down = client->GetManifest();
  EXPECT_EQ(ErrorCodeOf(down.status()), ErrorCode::kUnavailable);
  EXPECT_EQ(client->manifest_cache()->size(), 0u);
  auto agent = StartAgent({}, address);
  absl::StatusOr<v1::Manifest> up = client->GetManifest();
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(agent->counter.calls, 1);
}

TEST(ManifestCacheInterceptorTest, StaleSignOnSendInvalidates) {
  auto agent = StartAgent();
  auto client = ClientFor(agent->server->address());
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(client->manifest_cache()->size(), 1u);
  v1::Envelope request;
  request.set_sender("urn:asap:agent:tester");
  request.set_recipient("urn:asap:agent:echo");
  request.set_payload_type("skill.the-agent-dropped");
  request.mutable_payload();
  absl::StatusOr<v1::Envelope> response = client->Send(request);
  ASSERT_EQ(ErrorCodeOf(response.status()), ErrorCode::kHandlerNotFound);
  EXPECT_EQ(client->manifest_cache()->size(), 0u);
  ASSERT_TRUE(client->GetManifest().ok());
  EXPECT_EQ(agent->counter.calls, 2);
}

TEST(ManifestCacheInterceptorTest, ConcurrentMissesMakeOneFetch) {
  auto agent = StartAgent();
  // The server holds on to the cache (not the client): should the client
  // give up first, the held call still reads live memory.
  auto cache = std::make_shared<ManifestCache>();
  ClientOptions options;
  options.target = agent->server->address();
  options.timeout = absl::Seconds(10);
  options.manifest_cache.shared_cache = cache;
  auto client = *AsapClient::Create(options);
  constexpr int kThreads = 16;
  // Hold the one fetch at the server until all 16 callers are in the cache.
  agent->counter.release_when = [cache] {
    return cache->stats().misses >= kThreads;
  };
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      if (client->GetManifest().ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, kThreads);
  EXPECT_EQ(agent->counter.calls, 1);
  EXPECT_EQ(client->manifest_cache()->stats().fetches, 1u);
}

TEST(ManifestCacheInterceptorTest, WorksOnAPlainChannel) {
  auto agent = StartAgent();
  auto cache = std::make_shared<ManifestCache>();
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeManifestCacheInterceptorFactory(cache, "echo"));
  auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      agent->server->address(), grpc::InsecureChannelCredentials(),
      grpc::ChannelArguments(), std::move(interceptors));
  auto stub = v1::AsapService::NewStub(channel);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    v1::Manifest manifest;
    grpc::Status status =
        stub->GetManifest(&context, v1::GetManifestRequest(), &manifest);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(manifest.id(), "urn:asap:agent:echo");
  }
  EXPECT_EQ(agent->counter.calls, 1);
  EXPECT_NE(cache->Get("echo"), nullptr);
}

}  // namespace
}  // namespace asap
