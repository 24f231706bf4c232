// The configuration file of `asap serve --config FILE`: TOML whose keys are
// the command-line flags of serve, without their dashes in front.
//
//   # asap.toml
//   host = "0.0.0.0"
//   port = 50051
//   http-port = 8080
//   tls-cert = "certs/server.pem"      # relative to this file's folder
//   tls-key = "certs/server.key"
//   auth-client-certs = false
//   rate-limit = ["10/s", "100/min"]   # or "10/s,100/min"
//   log-level = "info"
//
//   absl::StatusOr<asap::cli::ServeFlags> flags =
//       asap::cli::ReadServeConfig("asap.toml");
//   // (*flags)["port"] == "50051", (*flags)["auth-client-certs"] == "false"
//
// Each value becomes the text the flag would have been given, so the file
// and the command line go through the same checks afterwards; flags given
// on the command line override the file's. Every error is one line naming
// the file and line: "asap.toml:3: unknown key 'prot'".
#ifndef ASAP_TOOLS_CLI_SERVE_CONFIG_H_
#define ASAP_TOOLS_CLI_SERVE_CONFIG_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asap::cli {

// Flag name (as in --name) -> value as it would be typed.
using ServeFlags = std::map<std::string, std::string>;

// Largest configuration file read; a serve configuration is a few hundred
// bytes, so anything near this is a mistake (a wrong path).
inline constexpr size_t kMaxServeConfigBytes = 1 << 20;

// The flags of `asap serve` a configuration file may set, which are all of
// them but --config itself.
const std::vector<std::string>& ServeConfigKeys();

// Parses `text`, a configuration file named `name` in errors. Relative
// paths (manifest, tls-*, auth-tokens, jwt-key) are taken relative to
// `base_dir` when it is not empty. InvalidArgument, one line
// "NAME:LINE: ...", for a TOML syntax error, an unknown key, a value of the
// wrong type (ports are integers from 0 to 65535, auth-client-certs and
// redis-fail-open booleans, rate-limit a string or a list of strings, the
// others strings) or an invalid log-level, log-format or rate-limit.
absl::StatusOr<ServeFlags> ParseServeConfig(absl::string_view text,
                                            absl::string_view name,
                                            absl::string_view base_dir = "");

// Reads the file at `path` and parses it as ParseServeConfig, relative paths
// being relative to the file's folder. NotFound when it cannot be read,
// InvalidArgument when it is larger than kMaxServeConfigBytes or does not
// parse.
absl::StatusOr<ServeFlags> ReadServeConfig(const std::string& path);

}  // namespace asap::cli

#endif  // ASAP_TOOLS_CLI_SERVE_CONFIG_H_
