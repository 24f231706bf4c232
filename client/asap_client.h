// AsapClient: talks ASAP to one agent over gRPC.
//
//   asap::ClientOptions options;
//   options.target = "127.0.0.1:50051";
//   absl::StatusOr<std::unique_ptr<asap::AsapClient>> client =
//       asap::AsapClient::Create(options);
//   if (!client.ok()) return client.status();
//
//   absl::StatusOr<asap::v1::Manifest> manifest = (*client)->GetManifest();
//
//   asap::v1::Envelope request;
//   request.set_sender("urn:asap:agent:me");
//   request.set_recipient(manifest->id());
//   request.set_payload_type("task.request");
//   ...
//   absl::StatusOr<asap::v1::Envelope> response = (*client)->Send(request);
//   if (!response.ok()) {
//     // asap::ErrorCodeOf(response.status()) is the ASAP error code.
//   }
//
// Every call takes a connection from the client's ChannelPool
// (client/channel_pool.h). The client is thread-safe: share one per target.
#ifndef ASAP_CLIENT_ASAP_CLIENT_H_
#define ASAP_CLIENT_ASAP_CLIENT_H_

#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/envelope.h"
#include "asap/time/clock.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/manifest.pb.h"
#include "asap/v1/service.pb.h"
#include "client/channel_pool.h"
#include "client/manifest_cache.h"

namespace asap {

// How the client caches the agent's manifest (client/manifest_cache.h,
// client/manifest_cache_interceptor.h).
struct ManifestCacheSettings {
  // Answer GetManifest from the cache while the entry is fresh.
  bool enabled = true;
  // Lifetime of an entry (the server's `asap-manifest-max-age` hint can only
  // shorten it).
  absl::Duration ttl = absl::Minutes(5);
  // Entries kept, least recently used evicted first; 0 = unlimited.
  size_t max_size = 1000;
  // Share one cache between clients (all clients of one process, say). When
  // null the client makes its own from ttl and max_size.
  std::shared_ptr<ManifestCache> shared_cache;
  // Time source for expiry; null = the real clock. Tests use a FakeClock.
  const Clock* clock = nullptr;
};

// How SendBatch streams a batch.
struct BatchOptions {
  // Stop at the first failed envelope and return its error (with its
  // position) instead of a result list, as the reference's
  // return_exceptions=False.
  bool fail_fast = false;
  // Deadline of the whole batch; zero = ClientOptions::timeout.
  absl::Duration timeout = absl::ZeroDuration();
  // A frame (one gRPC message) carries at most this many envelopes (a batch
  // of fewer than two full frames is cut in two halves, which the server
  // runs concurrently) ...
  int max_envelopes_per_frame = 100;
  // ... and at most this many bytes (never more than the message limit).
  // Frames of tens of KB measured fastest here (docs/PERFORMANCE.md).
  size_t max_frame_bytes = 64 * 1024;
  // Envelopes sent but not yet answered, at most: the flow-control window
  // that keeps the stream full without buffering the whole batch.
  int window = 2000;
};

// Compression of Send bodies (docs/COMPRESSION.md). Bodies of at least
// `threshold_bytes` go through SendCompressed, encoded with `algorithm`;
// responses come back in the first encoding of `accept_encoding` the server
// supports. Smaller bodies, and algorithm "none", use plain Send.
struct CompressionOptions {
  // "br" (brotli, the default), "gzip" or "none". "none" also stops the
  // server from compressing plain responses with gRPC's gzip.
  std::string algorithm = "br";
  // Smallest serialized envelope that is compressed (the plan's 1 KB).
  size_t threshold_bytes = 1024;
  // The algorithm's own level: brotli quality 0-11, gzip level 1-9; -1 = the
  // codec's default (brotli 5, gzip 6).
  int level = -1;
  // Encodings accepted for responses, in preference order; "" = identity.
  std::string accept_encoding = "br, gzip";
};

struct ClientOptions {
  // gRPC target of the agent: "host:port", "ipv4:127.0.0.1:p1,127.0.0.1:p2",
  // "unix:/path", ...
  std::string target;
  // Deadline of each call.
  absl::Duration timeout = absl::Seconds(30);
  // Largest message sent or received, in bytes (the server's default limit).
  int max_message_bytes = 10 * 1024 * 1024;
  // Validate an envelope before sending it, so a bad envelope fails here with
  // the same ASAP error the server would give. (id, timestamp and asap_version
  // are filled in when empty either way.)
  bool validate_before_send = true;
  ValidationOptions validation;
  // The connection pool: pool_connections, pool_maxsize, pool_timeout.
  ChannelPoolOptions pool;
  // The manifest cache (TTL 5 min, 1000 entries, on by default).
  ManifestCacheSettings manifest_cache;
  // Compression of large Send bodies (brotli above 1 KB by default).
  CompressionOptions compression;
};

class AsapClient {
 public:
  // InvalidArgument for an empty target or invalid pool options. Does not
  // connect: the first call does.
  static absl::StatusOr<std::unique_ptr<AsapClient>> Create(
      ClientOptions options);

  ~AsapClient();
  AsapClient(const AsapClient&) = delete;
  AsapClient& operator=(const AsapClient&) = delete;

  // Sends one envelope and returns the agent's response envelope. Fills in id
  // and timestamp when empty. Errors: the ASAP error of local validation or of
  // the server (asap/grpc_status.h), asap:transport/unavailable when the agent
  // cannot be reached, asap:transport/deadline_exceeded after `timeout`,
  // asap:transport/pool_exhausted when the pool has no capacity.
  absl::StatusOr<v1::Envelope> Send(v1::Envelope envelope);

  // Callback form of Send: returns at once (after waiting for pool capacity,
  // at most pool_timeout) and calls `done` exactly once, on a gRPC thread, with
  // the result. Lets one thread keep thousands of calls in flight. `done` must
  // not block for long.
  using SendCallback = std::function<void(absl::StatusOr<v1::Envelope>)>;
  void SendAsync(v1::Envelope envelope, SendCallback done);

  // Sends `envelopes` over one SendBatch stream and returns one result per
  // envelope, in the same order: the response envelope or that envelope's own
  // error (one bad envelope does not sink the batch). Envelopes that got no
  // answer because the stream failed (server shut down, deadline) carry the
  // stream's error. Returns InvalidArgument for an empty batch or invalid
  // options, and with options.fail_fast the first error, prefixed by the
  // envelope's position.
  using BatchResults = std::vector<absl::StatusOr<v1::Envelope>>;
  absl::StatusOr<BatchResults> SendBatch(std::vector<v1::Envelope> envelopes,
                                         const BatchOptions& options = {});

  // The agent's manifest: from the manifest cache while fresh (no network),
  // otherwise fetched once and cached. Errors as Send; a failed fetch is not
  // cached.
  absl::StatusOr<v1::Manifest> GetManifest();

  // The client's manifest cache (hits, misses, fetches in stats()), or null
  // when caching is off.
  ManifestCache* manifest_cache() const { return manifest_cache_.get(); }

  // Pool counters (connections opened, waits, ...).
  ChannelPool::Stats pool_stats() const;

  // Compression counters: bodies compressed and their sizes.
  struct CompressionStats {
    uint64_t requests_compressed = 0;
    uint64_t request_bytes_raw = 0;   // serialized size of those requests
    uint64_t request_bytes_sent = 0;  // their compressed size
    uint64_t responses_compressed = 0;
    uint64_t response_bytes_received = 0;
    uint64_t response_bytes_raw = 0;
    // The server refused SendCompressed or the encoding; plain Send is used.
    bool compression_refused = false;
  };
  CompressionStats compression_stats() const;

  const ClientOptions& options() const { return options_; }

 private:
  explicit AsapClient(ClientOptions options);
  absl::Status Prepare(v1::Envelope* envelope) const;
  absl::StatusOr<v1::Envelope> SendPlain(const v1::Envelope& envelope,
                                         absl::Time deadline);
  // nullopt when the envelope should go uncompressed.
  std::optional<absl::StatusOr<v1::Envelope>> TrySendCompressed(
      const v1::Envelope& envelope, absl::Time deadline);
  // The SendCompressed request for `envelope`, or nullopt when it goes
  // uncompressed (compression off or refused, under the threshold, or
  // incompressible).
  std::optional<absl::StatusOr<v1::CompressedEnvelope>> EncodeCompressed(
      const v1::Envelope& envelope) const;
  // The response inside `answer`; counts the call in compression_stats().
  absl::StatusOr<v1::Envelope> DecodeCompressed(
      const v1::CompressedEnvelope& request,
      const v1::CompressedEnvelope& answer, size_t request_raw_bytes);
  // True (and remembered) when a failed SendCompressed means the peer does
  // not take compressed bodies: the call is then sent uncompressed.
  bool NoteIfCompressionRefused(const grpc::Status& status,
                                const absl::Status& error);

  const ClientOptions options_;
  std::shared_ptr<ManifestCache> manifest_cache_;
  std::unique_ptr<ChannelPool> pool_;
  mutable absl::Mutex stats_mu_;
  CompressionStats compression_stats_ ABSL_GUARDED_BY(stats_mu_);
};

}  // namespace asap

#endif  // ASAP_CLIENT_ASAP_CLIENT_H_
