#include "server/grpc/reloadable_tls.h"

#include <fcntl.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace asap {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// Writes `data` to `path` (mode 0600) through a temporary file and a
// rename, so a reader sees the old file or the new one, never a part.
absl::Status WriteAtomically(const std::string& path, const std::string& data) {
  std::string temporary = absl::StrCat(path, ".new");
  int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", temporary, ": ", strerror(errno)));
  }
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return absl::InternalError(
          absl::StrCat("cannot write ", temporary, ": ", strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot replace ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// InvalidArgument unless `pem` holds at least one certificate and nothing
// that fails to parse as one.
absl::Status CheckCertificates(const std::string& pem,
                               absl::string_view option) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int certificates = 0;
  ERR_clear_error();
  while (bio != nullptr) {
    std::unique_ptr<X509, X509Free> certificate(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (certificate == nullptr) break;
    ++certificates;
  }
  // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a
  // block that is not a certificate.
  unsigned long error = ERR_peek_last_error();
  ERR_clear_error();
  if (certificates == 0 ||
      (error != 0 && ERR_GET_REASON(error) != PEM_R_NO_START_LINE)) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": not a bundle of PEM certificates"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckKeyMatchesCertificate(const std::string& cert_pem,
                                        const std::string& key_pem) {
  std::unique_ptr<BIO, BioFree> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  std::unique_ptr<X509, X509Free> cert(
      cert_bio == nullptr
          ? nullptr
          : PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        "tls.cert_file: no PEM certificate could be read");
  }
  std::unique_ptr<BIO, BioFree> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  // No passphrase callback: an encrypted key fails here, not on a prompt.
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      key_bio == nullptr
          ? nullptr
          : PEM_read_bio_PrivateKey(
                key_bio.get(), nullptr,
                [](char*, int, int, void*) { return 0; }, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "tls.key_file: no unencrypted PEM private key could be read");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(
        "tls.key_file is not the private key of tls.cert_file's certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ReloadableTls>> ReloadableTls::Create(
    ServerTlsOptions tls) {
  std::unique_ptr<ReloadableTls> result(new ReloadableTls(std::move(tls)));
  const char* tmp = getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/asap-tls-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat(
        "cannot make a directory for the TLS files: ", strerror(errno)));
  }
  {
    absl::MutexLock lock(&result->mu_);
    result->dir_ = pattern;
    if (absl::Status s = result->Copy(); !s.ok()) return s;
  }
  const std::string live = result->dir_ + "/live";
  const ServerTlsOptions& options = result->tls_;
  auto provider =
      options.client_ca_file.empty()
          ? std::make_shared<
                grpc::experimental::FileWatcherCertificateProvider>(
                live + "/key.pem", live + "/cert.pem", kRefreshSeconds)
          : std::make_shared<
                grpc::experimental::FileWatcherCertificateProvider>(
                live + "/key.pem", live + "/cert.pem", live + "/ca.pem",
                kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions credentials(provider);
  credentials.watch_identity_key_cert_pairs();
  if (!options.client_ca_file.empty()) {
    credentials.watch_root_certs();
    credentials.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    credentials.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  result->credentials_ = grpc::experimental::TlsServerCredentials(credentials);
  if (result->credentials_ == nullptr) {
    return absl::InternalError("gRPC refused the TLS credentials");
  }
  return result;
}

ReloadableTls::~ReloadableTls() {
  absl::MutexLock lock(&mu_);
  if (dir_.empty()) return;
  unlink((dir_ + "/live").c_str());
  RemoveGeneration(generation_ - 1);
  RemoveGeneration(generation_);
  rmdir(dir_.c_str());
}

void ReloadableTls::RemoveGeneration(int generation) {
  if (generation < 1) return;
  std::string dir = absl::StrCat(dir_, "/", generation);
  for (const char* name : {"/key.pem", "/cert.pem", "/ca.pem"}) {
    unlink((dir + name).c_str());
  }
  rmdir(dir.c_str());
}

absl::Status ReloadableTls::Reload() {
  absl::MutexLock lock(&mu_);
  return Copy();
}

absl::Status ReloadableTls::Copy() {
  absl::StatusOr<std::string> cert =
      ReadPemFile(tls_.cert_file, "tls.cert_file");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPemFile(tls_.key_file, "tls.key_file");
  if (!key.ok()) return key.status();
  if (absl::Status s = CheckKeyMatchesCertificate(*cert, *key); !s.ok()) {
    return s;
  }
  std::string ca;
  if (!tls_.client_ca_file.empty()) {
    absl::StatusOr<std::string> read =
        ReadPemFile(tls_.client_ca_file, "tls.client_ca_file");
    if (!read.ok()) return read.status();
    if (absl::Status s = CheckCertificates(*read, "tls.client_ca_file");
        !s.ok()) {
      return s;
    }
    ca = *std::move(read);
  }
  // Each set of files goes into a directory of its own, and one rename of
  // the `live` link switches gRPC to all of them at once: it never sees a
  // key from one set with a certificate from another.
  const int generation = generation_ + 1;
  const std::string dir = absl::StrCat(dir_, "/", generation);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot make ", dir, ": ", strerror(errno)));
  }
  absl::Status written = WriteAtomically(dir + "/cert.pem", *cert);
  if (written.ok()) written = WriteAtomically(dir + "/key.pem", *key);
  if (written.ok() && !ca.empty()) {
    written = WriteAtomically(dir + "/ca.pem", ca);
  }
  const std::string link = dir_ + "/live.new";
  unlink(link.c_str());
  if (written.ok() &&
      (symlink(absl::StrCat(generation).c_str(), link.c_str()) != 0 ||
       rename(link.c_str(), (dir_ + "/live").c_str()) != 0)) {
    written = absl::InternalError(
        absl::StrCat("cannot switch to ", dir, ": ", strerror(errno)));
  }
  if (!written.ok()) {
    RemoveGeneration(generation);
    return written;
  }
  // The set before the previous one is read by no one any more: gRPC reads
  // the live set, and at most one refresh may still be reading the previous.
  RemoveGeneration(generation_ - 1);
  generation_ = generation;
  return absl::OkStatus();
}

}  // namespace asap
