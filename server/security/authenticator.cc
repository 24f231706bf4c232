#include "server/security/authenticator.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "asap/ids.h"

namespace asap {
namespace {

constexpr absl::string_view kAgentUrnPrefix = "urn:asap:agent:";
// Longest Authorization value looked at; a JWT is far shorter.
constexpr size_t kMaxAuthorizationBytes = 16 * 1024;

// The agent URN among a certificate's URI SANs, if exactly one is.
absl::StatusOr<std::string> CertificateIdentity(
    const std::vector<std::string>& uris) {
  std::string found;
  for (const std::string& uri : uris) {
    if (!absl::StartsWith(uri, kAgentUrnPrefix)) continue;
    if (!IsAgentUrn(uri)) {
      return AsapError(ErrorCode::kUnauthenticated,
                       "the client certificate names a malformed agent URN");
    }
    if (!found.empty() && found != uri) {
      return AsapError(ErrorCode::kUnauthenticated,
                       "the client certificate names more than one agent");
    }
    found = uri;
  }
  return found;
}

// A scheme is shown in a refusal only when it looks like one (a short word),
// never a token sent without a scheme.
bool ShowableScheme(absl::string_view scheme) {
  if (scheme.empty() || scheme.size() > 16) return false;
  for (char c : scheme) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The printable start of a value from the network, for messages.
std::string Shown(absl::string_view value) {
  std::string out;
  for (char c : value.substr(0, 32)) {
    out.push_back(absl::ascii_isprint(static_cast<unsigned char>(c)) ? c : '?');
  }
  return out;
}

}  // namespace

Authenticator::Authenticator(AuthOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::string> Authenticator::Authenticate(
    const CallCredentials& credentials) const {
  if (!enabled()) return std::string();
  std::string from_certificate;
  if (options_.client_certificates) {
    absl::StatusOr<std::string> identity =
        CertificateIdentity(credentials.certificate_uris);
    if (!identity.ok()) return identity.status();
    from_certificate = *std::move(identity);
  }
  if (!credentials.authorization.has_value()) {
    if (!from_certificate.empty()) return from_certificate;
    return AsapError(
        ErrorCode::kUnauthenticated,
        options_.token_validator != nullptr
            ? "missing credentials: send Authorization: Bearer <token>"
            : "missing credentials: present a client certificate");
  }
  absl::string_view value = *credentials.authorization;
  if (value.size() > kMaxAuthorizationBytes) {
    return AsapError(ErrorCode::kUnauthenticated,
                     "the Authorization value is too long");
  }
  value = absl::StripAsciiWhitespace(value);
  size_t space = value.find(' ');
  absl::string_view scheme = value.substr(0, space);
  if (!absl::EqualsIgnoreCase(scheme, "bearer")) {
    return AsapError(ErrorCode::kUnsupportedAuthScheme,
                     ShowableScheme(scheme)
                         ? absl::StrCat("authorization scheme \"", scheme,
                                        "\" is not supported; use Bearer")
                         : "the Authorization value is not \"Bearer <token>\"");
  }
  if (options_.token_validator == nullptr) {
    return AsapError(ErrorCode::kUnsupportedAuthScheme,
                     "this agent does not accept bearer tokens");
  }
  absl::string_view token =
      space == absl::string_view::npos
          ? absl::string_view()
          : absl::StripAsciiWhitespace(value.substr(space + 1));
  if (token.empty()) {
    return AsapError(ErrorCode::kUnauthenticated, "empty bearer token");
  }
  absl::StatusOr<std::string> identity =
      options_.token_validator->Validate(token);
  // A validator that "accepts" a token without naming an agent must not
  // turn the sender check off (an empty identity means "not
  // authenticated").
  if (identity.ok() && !IsAgentUrn(*identity)) {
    return AsapError(ErrorCode::kUnauthenticated,
                     "the token does not name an agent");
  }
  if (!identity.ok()) {
    // Whatever the validator said, the caller sees an authentication error.
    if (ErrorCodeOf(identity.status()) != ErrorCode::kUnauthenticated) {
      return AsapError(ErrorCode::kUnauthenticated,
                       identity.status().message());
    }
    return identity.status();
  }
  if (!from_certificate.empty() && from_certificate != *identity) {
    return AsapError(ErrorCode::kUnauthenticated,
                     "the bearer token and the client certificate name "
                     "different agents");
  }
  return identity;
}

absl::Status CheckSender(const v1::Envelope& envelope,
                         absl::string_view identity) {
  if (identity.empty() || envelope.sender() == identity) {
    return absl::OkStatus();
  }
  return AsapError(
      ErrorCode::kSenderMismatch,
      absl::StrCat("sender \"", Shown(envelope.sender()),
                   envelope.sender().size() > 32 ? "..." : "",
                   "\" is not the authenticated agent \"", identity, "\""));
}

}  // namespace asap
