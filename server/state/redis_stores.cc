#include "server/state/redis_stores.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asap/errors.h"

namespace asap {
namespace {

// Whole milliseconds for PX, at least 1 (PX 0 is an error).
std::string Millis(absl::Duration duration) {
  return absl::StrCat(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(duration)));
}

// KEYS[1] = key, ARGV[1] = the claim, ARGV[2] = the response, ARGV[3] = PX.
constexpr char kCompleteScript[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) "
    "else return 0 end";
// KEYS[1] = key, ARGV[1] = the claim.
constexpr char kAbandonScript[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";

// KEYS[1] = key, ARGV[1] = the claim, ARGV[2] = PX.
constexpr char kRenewScript[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
// KEYS[1] = the nonce's key, ARGV[1] = "o" + its owner, ARGV[2] = PX.
// 1 when the nonce is new (now remembered) or held by the same non-empty
// owner; 0 for a replay.
constexpr char kRememberNonceScript[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then "
    "return 1 end "
    "if ARGV[1] ~= 'o' and redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return 1 end "
    "return 0";
// A token no other claim has: 128 random bits.
std::string NewToken() {
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

}  // namespace

RedisReplayStore::RedisReplayStore(std::shared_ptr<RedisClient> client,
                                   absl::Duration window,
                                   NonceStoreOptions limits)
    : client_(std::move(client)),
      window_(window),
      limits_(limits),
      fallback_(window, limits) {}

absl::Status RedisReplayStore::CheckAndRemember(const std::string& nonce,
                                                const std::string& owner,
                                                absl::Time now) {
  if (nonce.size() > limits_.max_nonce_bytes) {
    return AsapError(
        ErrorCode::kInvalidNonce,
        absl::StrCat("extensions.nonce is ", nonce.size(), " bytes, at most ",
                     limits_.max_nonce_bytes, " are allowed"));
  }
  absl::StatusOr<RedisReply> reply = client_->Command(
      {"EVAL", kRememberNonceScript, "1",
       absl::StrCat(client_->options().key_prefix, "nonce:", nonce),
       absl::StrCat("o", owner), Millis(window_)});
  if (reply.ok()) {
    if (reply->type == RedisReply::Type::kInteger && reply->integer == 1) {
      return absl::OkStatus();
    }
    return AsapError(ErrorCode::kInvalidNonce,
                     absl::StrCat("nonce '", nonce.substr(0, 64),
                                  "' was already used (replay)"));
  }
  redis_errors_.fetch_add(1, std::memory_order_relaxed);
  if (client_->options().fail_open) {
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
    return fallback_.CheckAndRemember(nonce, owner, now);
  }
  return AsapError(
      ErrorCode::kUnavailable,
      absl::StrCat("replay store unavailable: ", reply.status().message()));
}

RedisStoreStats RedisReplayStore::stats() const {
  return {redis_errors_.load(std::memory_order_relaxed),
          fallbacks_.load(std::memory_order_relaxed)};
}

RedisIdempotencyStore::RedisIdempotencyStore(
    std::shared_ptr<RedisClient> client, absl::Duration window,
    size_t max_response_bytes, InMemoryIdempotencyOptions fallback)
    : client_(std::move(client)),
      window_(window),
      max_response_bytes_(max_response_bytes),
      fallback_(window, fallback) {}

bool RedisIdempotencyStore::UseFallback() {
  redis_errors_.fetch_add(1, std::memory_order_relaxed);
  if (!client_->options().fail_open) return false;
  fallbacks_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

absl::StatusOr<IdempotencyStore::Claim> RedisIdempotencyStore::TryClaim(
    const std::string& key, absl::Duration lease, absl::Time now) {
  const std::string redis_key =
      absl::StrCat(client_->options().key_prefix, "idem:", key);
  // A claim or a response that expires between SET NX and GET is looked up
  // again; twice is plenty (it would take a lease to run out each time).
  for (int attempt = 0; attempt < 3; ++attempt) {
    Claim claim;
    claim.token = NewToken();
    absl::StatusOr<RedisReply> reply =
        client_->Command({"SET", redis_key, absl::StrCat("P", claim.token),
                          "NX", "PX", Millis(lease)});
    if (reply.ok() && reply->type == RedisReply::Type::kStatus) {
      claim.state = ClaimState::kClaimed;
      return claim;
    }
    if (reply.ok()) reply = client_->Command({"GET", redis_key});
    if (!reply.ok()) {
      if (UseFallback()) {
        return fallback_.TryClaim(key, lease, now);
      }
      return AsapError(ErrorCode::kUnavailable,
                       absl::StrCat("idempotency store unavailable: ",
                                    reply.status().message()));
    }
    if (reply->type != RedisReply::Type::kString || reply->str.empty()) {
      continue;  // expired in between
    }
    claim.token.clear();
    if (reply->str[0] == 'D') {
      claim.state = ClaimState::kDone;
      claim.response = reply->str.substr(1);
    } else {
      claim.state = ClaimState::kBusy;
    }
    return claim;
  }
  Claim busy;
  busy.state = ClaimState::kBusy;
  return busy;
}

absl::Status RedisIdempotencyStore::Complete(const std::string& key,
                                             const std::string& token,
                                             const std::string& response,
                                             absl::Time now) {
  if (response.size() > max_response_bytes_) {
    (void)Abandon(key, token);
    return AsapError(ErrorCode::kPayloadTooLarge,
                     absl::StrCat("a response of ", response.size(),
                                  " bytes is not kept by the idempotency "
                                  "store"));
  }
  absl::StatusOr<RedisReply> reply = client_->Command(
      {"EVAL", kCompleteScript, "1",
       absl::StrCat(client_->options().key_prefix, "idem:", key),
       absl::StrCat("P", token), absl::StrCat("D", response), Millis(window_)});
  if (reply.ok()) return absl::OkStatus();
  // The claim may have been taken by the fallback (fail_open); completing
  // it there is harmless when it was not.
  if (UseFallback()) {
    return fallback_.Complete(key, token, response, now);
  }
  return AsapError(ErrorCode::kUnavailable,
                   absl::StrCat("idempotency store unavailable: ",
                                reply.status().message()));
}

absl::Status RedisIdempotencyStore::Abandon(const std::string& key,
                                            const std::string& token) {
  absl::StatusOr<RedisReply> reply = client_->Command(
      {"EVAL", kAbandonScript, "1",
       absl::StrCat(client_->options().key_prefix, "idem:", key),
       absl::StrCat("P", token)});
  if (reply.ok()) return absl::OkStatus();
  if (UseFallback()) return fallback_.Abandon(key, token);
  return AsapError(ErrorCode::kUnavailable,
                   absl::StrCat("idempotency store unavailable: ",
                                reply.status().message()));
}

absl::Status RedisIdempotencyStore::Renew(const std::string& key,
                                          const std::string& token,
                                          absl::Duration lease,
                                          absl::Time now) {
  absl::StatusOr<RedisReply> reply = client_->Command(
      {"EVAL", kRenewScript, "1",
       absl::StrCat(client_->options().key_prefix, "idem:", key),
       absl::StrCat("P", token), Millis(lease)});
  if (reply.ok()) {
    if (reply->type == RedisReply::Type::kInteger && reply->integer == 1) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError("the claim is no longer held");
  }
  if (UseFallback()) return fallback_.Renew(key, token, lease, now);
  return AsapError(ErrorCode::kUnavailable,
                   absl::StrCat("idempotency store unavailable: ",
                                reply.status().message()));
}

RedisStoreStats RedisIdempotencyStore::stats() const {
  return {redis_errors_.load(std::memory_order_relaxed),
          fallbacks_.load(std::memory_order_relaxed)};
}

absl::StatusOr<RedisStores> MakeRedisStores(RedisOptions options,
                                            absl::Duration window,
                                            size_t max_response_bytes,
                                            NonceStoreOptions nonce_limits) {
  absl::StatusOr<std::unique_ptr<RedisClient>> client =
      RedisClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  std::shared_ptr<RedisClient> shared = *std::move(client);
  RedisStores stores;
  stores.replay =
      std::make_shared<RedisReplayStore>(shared, window, nonce_limits);
  stores.idempotency = std::make_shared<RedisIdempotencyStore>(
      shared, window, max_response_bytes);
  return stores;
}

}  // namespace asap
