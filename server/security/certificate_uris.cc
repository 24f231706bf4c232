#include "server/security/certificate_uris.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"

namespace asap {
namespace {

constexpr absl::string_view kAgentUrnPrefix = "urn:asap:agent:";

bool IsPrintableAscii(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

std::vector<std::string> CertificateUris(X509* certificate) {
  std::vector<std::string> uris;
  if (certificate == nullptr) return uris;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  size_t agents = 0;
  size_t others = 0;
  int count = sk_GENERAL_NAME_num(names);
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    int length = ASN1_STRING_length(uri);
    if (length <= 0 || static_cast<size_t>(length) > kMaxCertificateUriBytes) {
      continue;
    }
    absl::string_view text(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
        static_cast<size_t>(length));
    // No NUL, space or control byte that could make one name look like
    // another.
    if (!IsPrintableAscii(text)) continue;
    if (absl::StartsWith(text, kAgentUrnPrefix)) {
      if (agents >= 2 ||
          std::find(uris.begin(), uris.end(), text) != uris.end()) {
        continue;
      }
      ++agents;
    } else {
      if (others >= kMaxCertificateUris) continue;
      ++others;
    }
    uris.emplace_back(text);
  }
  GENERAL_NAMES_free(names);
  return uris;
}

std::vector<std::string> CertificateUrisFromPem(absl::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) return {};
  std::unique_ptr<X509, decltype(&X509_free)> certificate(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  return CertificateUris(certificate.get());
}

}  // namespace asap
