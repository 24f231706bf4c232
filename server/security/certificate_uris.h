// The URI subject alternative names of a client certificate, as both
// bindings read them for an identity (Authenticator, AuthOptions::
// client_certificates). Only URI SANs count: a DNS or e-mail SAN that reads
// "urn:asap:agent:..." names no agent.
#ifndef ASAP_SERVER_SECURITY_CERTIFICATE_URIS_H_
#define ASAP_SERVER_SECURITY_CERTIFICATE_URIS_H_

#include <openssl/x509.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace asap {

// Other URIs kept at most, and the longest URI kept.
inline constexpr size_t kMaxCertificateUris = 16;
inline constexpr size_t kMaxCertificateUriBytes = 512;

// The URI SANs of `certificate`: printable ASCII only, each at most
// kMaxCertificateUriBytes. Agent URNs are never left out, however many
// other SANs come first (a second agent hidden behind them would make the
// certificate ambiguous); two distinct ones are kept at most, which is
// enough to refuse it. Other URIs: the first kMaxCertificateUris.
std::vector<std::string> CertificateUris(X509* certificate);

// The same for the first certificate of `pem` (gRPC's auth context holds the
// peer's certificate as PEM); empty when it does not parse.
std::vector<std::string> CertificateUrisFromPem(absl::string_view pem);

}  // namespace asap

#endif  // ASAP_SERVER_SECURITY_CERTIFICATE_URIS_H_
