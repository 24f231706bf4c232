// ReloadableTls: the gRPC listener's TLS credentials, reloadable while the
// server runs (AsapServer::ReloadTls, `asap serve` on SIGHUP).
//
// gRPC 1.51 takes certificates that change at run time only from files it
// watches. The server's own files are not watched (an operator half-way
// through replacing a key and its certificate must not be served half of
// each); instead the server copies them, once checked, into a private
// directory that gRPC watches, and Reload copies them again. gRPC picks the
// copies up within kRefreshSeconds: handshakes after that use the new
// certificate, connections and calls already open keep theirs. Files that
// do not check out (unreadable, a key that is not the certificate's, a CA
// bundle that holds no certificate) are refused before anything changes.
#ifndef ASAP_SERVER_GRPC_RELOADABLE_TLS_H_
#define ASAP_SERVER_GRPC_RELOADABLE_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asap/tls_options.h"

namespace asap {

class ReloadableTls {
 public:
  // How often gRPC looks at the private copies.
  static constexpr unsigned int kRefreshSeconds = 1;

  // Checks the files of `tls` (enabled) and makes the credentials;
  // InvalidArgument naming the file that is unreadable, or a key that does
  // not belong to its certificate.
  static absl::StatusOr<std::unique_ptr<ReloadableTls>> Create(
      ServerTlsOptions tls);
  ~ReloadableTls();

  std::shared_ptr<grpc::ServerCredentials> credentials() const {
    return credentials_;
  }

  // Reads the configured files again and, when they check out, hands them to
  // gRPC; otherwise returns why and keeps serving the previous ones.
  // Thread-safe.
  absl::Status Reload();

 private:
  explicit ReloadableTls(ServerTlsOptions tls) : tls_(std::move(tls)) {}
  // Reads and checks the configured files, then replaces the copies.
  absl::Status Copy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServerTlsOptions tls_;
  absl::Mutex mu_;
  // Removes the copies of `generation` (the directory dir_/<generation>).
  void RemoveGeneration(int generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The private copies: dir_/<generation>/{key,cert,ca}.pem, and the link
  // dir_/live to the current generation, which gRPC watches.
  std::string dir_;
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
};

// InvalidArgument when `key_pem` is not the private key of the first
// certificate of `cert_pem` (or either does not parse).
absl::Status CheckKeyMatchesCertificate(const std::string& cert_pem,
                                        const std::string& key_pem);

}  // namespace asap

#endif  // ASAP_SERVER_GRPC_RELOADABLE_TLS_H_
