// Authenticator: who is calling. Both bindings ask it, with what the call
// carries, before any envelope of the call runs; the identity it returns is
// the agent URN every envelope of that call must name as its sender.
//
//   asap::AuthOptions auth;
//   auth.token_validator = *asap::StaticTokenValidator::FromFile("tokens");
//   auth.client_certificates = true;   // mTLS: the certificate's URI SAN
//   asap::Authenticator authenticator(std::move(auth));
//   absl::StatusOr<std::string> who = authenticator.Authenticate(
//       {.authorization = "Bearer s3cr3t...", .certificate_uris = {}});
//
// Credentials, in order:
//   - `Authorization: Bearer TOKEN` (gRPC metadata or HTTP header), checked
//     by the token validator: the identity is what it maps the token to;
//   - otherwise a verified client certificate whose URI SAN is an agent URN
//     (urn:asap:agent:...), when client_certificates is on.
// A call with both must name the same agent in both. A call with neither,
// with another scheme (Basic, ...) or with a token the validator refuses
// gets UNAUTHENTICATED (asap:auth/unauthenticated, or
// asap:auth/unsupported_scheme).
#ifndef ASAP_SERVER_SECURITY_AUTHENTICATOR_H_
#define ASAP_SERVER_SECURITY_AUTHENTICATOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/auth/token_validator.h"
#include "asap/v1/envelope.pb.h"

namespace asap {

struct AuthOptions {
  // Maps bearer tokens to agent URNs (asap/auth/: a static token file, JWT,
  // or your own). Null: bearer tokens are not accepted.
  std::shared_ptr<const TokenValidator> token_validator;
  // Accept a verified client certificate's agent URN (URI SAN) as the
  // identity. Needs ServerTlsOptions::client_ca_file.
  bool client_certificates = false;

  // Authentication is on when either source is configured: every call must
  // then carry credentials, and every envelope's sender must be the caller.
  bool enabled() const {
    return token_validator != nullptr || client_certificates;
  }
};

// What a call carries that may authenticate it.
struct CallCredentials {
  // The Authorization header or metadata value, if any.
  std::optional<absl::string_view> authorization;
  // URI SANs of the client certificate, when TLS verified one.
  std::vector<std::string> certificate_uris;
};

class Authenticator {
 public:
  explicit Authenticator(AuthOptions options);

  bool enabled() const { return options_.enabled(); }

  // The caller's agent URN, or the refusal (see the file comment). When
  // authentication is off: an empty identity, always OK.
  absl::StatusOr<std::string> Authenticate(
      const CallCredentials& credentials) const;

 private:
  const AuthOptions options_;
};

// PERMISSION_DENIED (asap:auth/sender_mismatch) when `identity` is set and
// `envelope` names another sender; OK otherwise.
absl::Status CheckSender(const v1::Envelope& envelope,
                         absl::string_view identity);

// The value of the WWW-Authenticate header of a refused call.
inline constexpr char kWwwAuthenticate[] = "Bearer realm=\"asap\"";

}  // namespace asap

#endif  // ASAP_SERVER_SECURITY_AUTHENTICATOR_H_
