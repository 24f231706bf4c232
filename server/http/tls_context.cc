#include "server/http/tls_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/security/certificate_uris.h"

namespace asap {
namespace http_internal {
namespace {

// TLS 1.2 suites (TLS 1.3 keeps OpenSSL's, all of them AEAD): ECDHE key
// exchange and AEAD ciphers only, which also satisfies HTTP/2's TLS 1.2
// profile (RFC 9113, section 9.2).
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Sessions resumed with client certificates need a context id; any constant
// does for one server.
constexpr unsigned char kSessionIdContext[] = "asap-http";

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// Empties this thread's OpenSSL error queue into text for a message.
std::string TakeOpenSslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

absl::Status Invalid(absl::string_view option, const std::string& path,
                     absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(option, ": '", path, "' ", what, ": ", TakeOpenSslErrors()));
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// A password callback that has none: an encrypted key fails to load instead
// of OpenSSL asking for its passphrase on the terminal.
int NoPassword(char*, int, int, void*) { return 0; }

// Every certificate of a PEM bundle, in order; an empty result means none
// could be read.
std::vector<X509Ptr> ReadCertificates(const std::string& pem) {
  std::vector<X509Ptr> certificates;
  BioPtr bio = MemoryBio(pem);
  if (bio == nullptr) return certificates;
  while (X509* x509 =
             PEM_read_bio_X509(bio.get(), nullptr, &NoPassword, nullptr)) {
    certificates.emplace_back(x509);
  }
  // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a
  // broken block: only a broken one is an error.
  unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM &&
      ERR_GET_REASON(last) == PEM_R_NO_START_LINE && !certificates.empty()) {
    ERR_clear_error();
  } else if (last != 0) {
    certificates.clear();
  }
  return certificates;
}

// ALPN: "h2" if offered, else "http/1.1"; a client that offers neither gets
// a fatal no_application_protocol alert.
int SelectApplicationProtocol(SSL*, const unsigned char** out,
                              unsigned char* out_length,
                              const unsigned char* in, unsigned int in_length,
                              void*) {
  const unsigned char* http1 = nullptr;
  for (unsigned int i = 0; i < in_length;) {
    unsigned int length = in[i];
    if (length == 0 || length > in_length - i - 1) break;
    absl::string_view protocol(reinterpret_cast<const char*>(in + i + 1),
                               length);
    if (protocol == "h2") {
      *out = in + i + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    if (protocol == "http/1.1" && http1 == nullptr) http1 = in + i + 1;
    i += 1 + length;
  }
  if (http1 != nullptr) {
    *out = http1;
    *out_length = 8;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

ServerTlsContext::ServerTlsContext(SSL_CTX* native) : context_(native) {}

absl::StatusOr<std::shared_ptr<ServerTlsContext>> ServerTlsContext::Create(
    const ServerTlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.cert_file and tls.key_file go together");
  }
  // Every file is read before any is used: a reload sees one state of each.
  absl::StatusOr<std::string> cert_pem =
      ReadPemFile(options.cert_file, "tls.cert_file");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem =
      ReadPemFile(options.key_file, "tls.key_file");
  if (!key_pem.ok()) return key_pem.status();
  std::string ca_pem;
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<std::string> read =
        ReadPemFile(options.client_ca_file, "tls.client_ca_file");
    if (!read.ok()) return read.status();
    ca_pem = *std::move(read);
  }

  ERR_clear_error();
  SSL_CTX* native = SSL_CTX_new(TLS_server_method());
  if (native == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a TLS context: ", TakeOpenSslErrors()));
  }
  // Owns `native` from here on.
  std::shared_ptr<ServerTlsContext> result(new ServerTlsContext(native));
  SSL_CTX_set_default_passwd_cb(native, &NoPassword);

  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
      SSL_CTX_set_session_id_context(native, kSessionIdContext,
                                     sizeof(kSessionIdContext) - 1) != 1) {
    return absl::InternalError(absl::StrCat(
        "cannot configure the TLS context: ", TakeOpenSslErrors()));
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_alpn_select_cb(native, &SelectApplicationProtocol, nullptr);

  // The certificate, then the rest of its chain.
  std::vector<X509Ptr> chain = ReadCertificates(*cert_pem);
  if (chain.empty()) {
    return Invalid("tls.cert_file", options.cert_file,
                   "holds no readable certificate");
  }
  if (SSL_CTX_use_certificate(native, chain.front().get()) != 1) {
    return Invalid("tls.cert_file", options.cert_file,
                   "holds an unusable certificate");
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    // add1: the context takes a reference of its own.
    if (SSL_CTX_add1_chain_cert(native, chain[i].get()) != 1) {
      return Invalid("tls.cert_file", options.cert_file,
                     "holds an unusable chain certificate");
    }
  }

  BioPtr key_bio = MemoryBio(*key_pem);
  PkeyPtr key(key_bio == nullptr
                  ? nullptr
                  : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &NoPassword,
                                            nullptr));
  if (key == nullptr) {
    return Invalid("tls.key_file", options.key_file,
                   "holds no readable (unencrypted) private key");
  }
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 ||
      SSL_CTX_check_private_key(native) != 1) {
    return Invalid("tls.key_file", options.key_file,
                   absl::StrCat("does not match the certificate in '",
                                options.cert_file, "'"));
  }

  if (!ca_pem.empty()) {
    std::vector<X509Ptr> authorities = ReadCertificates(ca_pem);
    if (authorities.empty()) {
      return Invalid("tls.client_ca_file", options.client_ca_file,
                     "holds no readable certificate");
    }
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    for (const X509Ptr& authority : authorities) {
      // The trust anchors of client certificates, and the names of the CAs
      // the server asks for in its CertificateRequest.
      if (X509_STORE_add_cert(store, authority.get()) != 1 ||
          SSL_CTX_add_client_CA(native, authority.get()) != 1) {
        return Invalid("tls.client_ca_file", options.client_ca_file,
                       "holds an unusable certificate");
      }
    }
    SSL_CTX_set_verify(
        native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    result->verifies_clients_ = true;
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  ERR_clear_error();
  return result;
}

absl::string_view SelectedAlpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &data, &length);
  if (data == nullptr) return absl::string_view();
  return absl::string_view(reinterpret_cast<const char*>(data), length);
}

std::vector<std::string> VerifiedPeerCertificateUris(const SSL* ssl,
                                                     bool verified_context) {
  if (!verified_context || SSL_get_verify_result(ssl) != X509_V_OK) {
    return {};
  }
  return CertificateUris(SSL_get0_peer_certificate(ssl));
}

}  // namespace http_internal
}  // namespace asap
