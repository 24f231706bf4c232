// ManifestCacheInterceptor: answers AsapService.GetManifest from a
// ManifestCache, as a gRPC client interceptor (gRPC's hijacking pattern).
//
// On every GetManifest call made on a channel that carries it:
//   * a fresh cached manifest answers the call locally: nothing is sent;
//   * a miss makes exactly one network fetch (on the channel past this
//     interceptor), shared by every concurrent miss for the same key
//     (ManifestCache::GetOrFetch), and fills the cache; a server TTL hint
//     (initial metadata `asap-manifest-max-age`, seconds) bounds the entry;
//   * a failed fetch caches nothing, invalidates the entry, and the call gets
//     the fetch's error.
// On other calls to the same peer, a status that shows the manifest may be
// stale invalidates the entry: UNIMPLEMENTED (e.g.
// asap:transport/handler_not_found, the agent no longer handles what its
// manifest said) and UNAVAILABLE (the agent went away; it may come back with a
// new manifest).
//
// AsapClient installs it on every pooled channel
// (ClientOptions::manifest_cache). To use it on a channel of your own:
//
//   auto cache = std::make_shared<asap::ManifestCache>();
//   std::vector<std::unique_ptr<
//       grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
//   interceptors.push_back(
//       asap::MakeManifestCacheInterceptorFactory(cache, "agent-key"));
//   auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
//       target, grpc::InsecureChannelCredentials(), {},
//       std::move(interceptors));
//
// GetManifest calls wait for the fetch on the calling thread: use the
// synchronous stub method (AsapClient::GetManifest does).
#ifndef ASAP_CLIENT_MANIFEST_CACHE_INTERCEPTOR_H_
#define ASAP_CLIENT_MANIFEST_CACHE_INTERCEPTOR_H_

#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <string>

#include "client/manifest_cache.h"

namespace asap {

// The metadata key of the server's TTL hint for its manifest, in seconds.
inline constexpr char kManifestMaxAgeMetadataKey[] = "asap-manifest-max-age";

// A factory for interceptors that cache under `key` (normally the target) in
// `cache`. The cache is shared: many channels may use one cache.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeManifestCacheInterceptorFactory(std::shared_ptr<ManifestCache> cache,
                                    std::string key);

}  // namespace asap

#endif  // ASAP_CLIENT_MANIFEST_CACHE_INTERCEPTOR_H_
