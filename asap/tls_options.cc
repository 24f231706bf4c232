#include "asap/tls_options.h"

#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace asap {
namespace {

constexpr size_t kMaxPemBytes = 1024 * 1024;

absl::Status Check(const std::string& path, absl::string_view option) {
  if (path.empty()) return absl::OkStatus();
  return ReadPemFile(path, option).status();
}

}  // namespace

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read '", path, "'"));
  }
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxPemBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          option, ": '", path, "' is larger than ", kMaxPemBytes, " bytes"));
    }
  }
  if (!absl::StrContains(text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": '", path, "' holds no PEM data"));
  }
  return text;
}

absl::Status ValidateServerTlsOptions(const ServerTlsOptions& tls) {
  if (!tls.enabled()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "tls.client_ca_file needs tls.cert_file and tls.key_file");
    }
    return absl::OkStatus();
  }
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.cert_file and tls.key_file go together");
  }
  if (absl::Status s = Check(tls.cert_file, "tls.cert_file"); !s.ok()) return s;
  if (absl::Status s = Check(tls.key_file, "tls.key_file"); !s.ok()) return s;
  return Check(tls.client_ca_file, "tls.client_ca_file");
}

absl::Status ValidateClientTlsOptions(const ClientTlsOptions& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.cert_file and tls.key_file go together");
  }
  if (absl::Status s = Check(tls.ca_file, "tls.ca_file"); !s.ok()) return s;
  if (absl::Status s = Check(tls.cert_file, "tls.cert_file"); !s.ok()) {
    return s;
  }
  return Check(tls.key_file, "tls.key_file");
}

}  // namespace asap
