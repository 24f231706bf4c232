// The shared stores of replicas behind a load balancer, in Redis:
//
//   RedisReplayStore:       SET <prefix>nonce:<nonce> 1 NX PX <window_ms>
//                           (set: first use; not set: a replay).
//   RedisIdempotencyStore:  claim  SET <prefix>idem:<key> P<token> NX
//                                      PX <lease_ms>
//                           done   D<response> with PX <window_ms>, written
//                                  by a Lua script only while the claim
//                                  P<token> is still there (a claim that
//                                  expired and was taken by another replica
//                                  is not overwritten);
//                           abandon deleted by a Lua script, same condition.
//
// When Redis cannot be reached (or answers an error, for example out of
// memory), a store with fail_open = false refuses the envelope with
// asap:transport/unavailable "replay store unavailable: ..." (or
// "idempotency store unavailable: ..."), never accepting it unchecked; with
// fail_open = true it uses an in-memory store of this replica instead and
// counts the fallback (replays across replicas are then possible until
// Redis is back).
#ifndef ASAP_SERVER_STATE_REDIS_STORES_H_
#define ASAP_SERVER_STATE_REDIS_STORES_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/nonce_store.h"
#include "server/state/idempotency_store.h"
#include "server/state/redis_client.h"
#include "server/state/replay_store.h"

namespace asap {

// Counters of a Redis store: commands that failed, and operations the
// in-memory fallback answered (fail_open only).
using RedisStoreStats = StoreStats;

class RedisReplayStore final : public ReplayStore {
 public:
  // Nonces are kept for `window`; `limits` bound the nonce length (in Redis
  // and in the fallback) and the fallback's entries.
  RedisReplayStore(std::shared_ptr<RedisClient> client, absl::Duration window,
                   NonceStoreOptions limits = {});

  using ReplayStore::CheckAndRemember;
  absl::Status CheckAndRemember(const std::string& nonce,
                                const std::string& owner,
                                absl::Time now) override;

  RedisStoreStats stats() const override;

 private:
  const std::shared_ptr<RedisClient> client_;
  const absl::Duration window_;
  const NonceStoreOptions limits_;
  NonceStore fallback_;
  std::atomic<uint64_t> redis_errors_{0};
  std::atomic<uint64_t> fallbacks_{0};
};

class RedisIdempotencyStore final : public IdempotencyStore {
 public:
  // Responses are kept for `window`; a response bigger than
  // `max_response_bytes` is not stored. `fallback` sizes the in-memory
  // store used with fail_open.
  RedisIdempotencyStore(std::shared_ptr<RedisClient> client,
                        absl::Duration window, size_t max_response_bytes,
                        InMemoryIdempotencyOptions fallback = {});

  absl::StatusOr<Claim> TryClaim(const std::string& key, absl::Duration lease,
                                 absl::Time now) override;
  absl::Status Complete(const std::string& key, const std::string& token,
                        const std::string& response, absl::Time now) override;
  absl::Status Abandon(const std::string& key,
                       const std::string& token) override;
  absl::Status Renew(const std::string& key, const std::string& token,
                     absl::Duration lease, absl::Time now) override;

  RedisStoreStats stats() const override;

 private:
  // Counts a failed command; true when the fallback answers instead
  // (fail_open), false when the caller must refuse.
  bool UseFallback();

  const std::shared_ptr<RedisClient> client_;
  const absl::Duration window_;
  const size_t max_response_bytes_;
  InMemoryIdempotencyStore fallback_;
  std::atomic<uint64_t> redis_errors_{0};
  std::atomic<uint64_t> fallbacks_{0};
};

// Both stores on one connection pool to options.url.
struct RedisStores {
  std::shared_ptr<RedisReplayStore> replay;
  std::shared_ptr<RedisIdempotencyStore> idempotency;
};
// `window` is the envelope timestamp window (ValidationOptions max_age +
// max_future); `max_response_bytes` the server's max_message_bytes.
// InvalidArgument for a bad URL. Does not connect.
absl::StatusOr<RedisStores> MakeRedisStores(
    RedisOptions options, absl::Duration window, size_t max_response_bytes,
    NonceStoreOptions nonce_limits = {});

}  // namespace asap

#endif  // ASAP_SERVER_STATE_REDIS_STORES_H_
