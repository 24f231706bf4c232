// Bearer tokens for calls to agents that require authentication.
//
//   asap::ClientOptions options;
//   options.target = "agent.example:8443";
//   options.tls.enabled = true;
//   options.token_provider = asap::StaticToken("eyJhbGciOi...");
//   // or a provider that refreshes, for example from an OAuth endpoint:
//   options.token_provider = asap::TokenFunction(
//       [&]() -> absl::StatusOr<std::string> { return issuer.Current(); });
//
// Every call carries `authorization: Bearer <token>`: over gRPC as call
// credentials (every call on every pooled channel), over HTTP as the
// Authorization header of every request, retries included. The provider is
// asked for each call, so a refreshed token is used from the next call on.
// A token sent without TLS can be read by anyone on the path: outside
// loopback, use tls (or an https:// target) with tokens.
#ifndef ASAP_CLIENT_TOKEN_PROVIDER_H_
#define ASAP_CLIENT_TOKEN_PROVIDER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace asap {

class TokenProvider {
 public:
  virtual ~TokenProvider() = default;

  // The bearer token for the next call (without "Bearer "). Called for
  // every call, from any thread, possibly at once; cache what is costly to
  // get. An error fails the call (gRPC: UNAUTHENTICATED from the client; HTTP:
  // the call is sent without credentials and the agent refuses it).
  virtual absl::StatusOr<std::string> Token() = 0;

  // Keeps cached manifests apart between identities that share a
  // ManifestCache: calls with different keys never share an entry. The
  // default is a digest of the current token.
  virtual std::string CacheKey();

  // False when Token() never waits (a token in memory): gRPC then asks for
  // it inline instead of handing every call to a thread that may block,
  // which saves a thread switch per call.
  virtual bool MayBlock() const { return true; }
};

// A provider that always gives `token`.
std::shared_ptr<TokenProvider> StaticToken(std::string token);

// A provider that asks `token` for every call.
std::shared_ptr<TokenProvider> TokenFunction(
    std::function<absl::StatusOr<std::string>()> token);

// "Bearer <token>", or the provider's error; InvalidArgument for a token
// with characters a header cannot carry.
absl::StatusOr<std::string> BearerAuthorization(TokenProvider& provider);

}  // namespace asap

#endif  // ASAP_CLIENT_TOKEN_PROVIDER_H_
