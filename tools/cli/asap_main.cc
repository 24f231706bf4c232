// asap: the command-line tool for people who operate ASAP agents.
//
//   asap serve    [--host H] [--port N] [--http-port N] [--manifest FILE]
//                 [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
//                 [--auth-tokens FILE] [--jwt-key FILE [--jwt-issuer ISS]
//                 [--jwt-audience AUD]] [--auth-client-certs true]
//                 [--rate-limit 10/s,100/min]
//                 [--redis redis://HOST:PORT[/DB]|unix:///PATH
//                 [--redis-fail-open true]]
//                 [--log-level off|error|warning|info] [--log-format text|json]
//                 [--config FILE]
//                 run an echo agent (gRPC, and the HTTP binding with
//                 --http-port; TLS and mutual TLS on both; SIGHUP reloads
//                 the certificates; --redis shares nonces and handler
//                 responses with the other replicas using that Redis;
//                 --log-level writes one line per envelope call to stderr;
//                 --config reads these flags from a TOML file, the command
//                 line overriding it)
//   asap send     --target HOST:PORT|http://HOST:PORT [--timeout SECONDS]
//                 [--compression none|gzip|br] FILE|-
//   asap manifest --target HOST:PORT|http://HOST:PORT [--timeout SECONDS]
//
// A target HOST:PORT is called over gRPC, http://HOST:PORT over ASAP's
// JSON-RPC HTTP binding (any ASAP agent, the Python reference included).
// send and manifest take --ca PEM, --cert PEM --key PEM and --server-name
// NAME for TLS (https:// targets are the HTTP binding over TLS), and
// --token TOKEN or --token-file FILE for agents that require a bearer token.
//   asap validate [--check-time] FILE|-
//
// Every failure is one line on stderr with the gRPC and ASAP codes, and a
// non-zero exit: 1 for a failed operation, 2 for a usage error.
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "asap/auth/jwt_validator.h"
#include "asap/auth/static_token_validator.h"
#include "asap/envelope.h"
#include "asap/errors.h"
#include "asap/json.h"
#include "asap/manifest.h"
#include "client/asap_client.h"
#include "client/compression_options.h"
#include "server/asap_server.h"
#include "server/echo_skill.h"
#include "server/shutdown_signals.h"
#include "server/state/redis_stores.h"
#include "tools/cli/serve_config.h"

namespace asap::cli {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  asap serve    [--host HOST] [--port N] [--http-port N] "
    "[--manifest FILE]\n"
    "                [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]\n"
    "                [--auth-tokens FILE] [--jwt-key FILE [--jwt-issuer ISS] "
    "[--jwt-audience AUD]]\n"
    "                [--auth-client-certs true] [--rate-limit 10/s,100/min]\n"
    "                [--redis redis://HOST:PORT[/DB]|unix:///PATH "
    "[--redis-fail-open true]]\n"
    "                [--log-level off|error|warning|info] "
    "[--log-format text|json]\n"
    "                [--config FILE]  (TOML; the flags above override it)\n"
    "  asap send     --target HOST:PORT|http://HOST:PORT "
    "[--timeout SECONDS]\n"
    "                [--compression none|gzip|br] [TLS] FILE|-\n"
    "  asap manifest --target HOST:PORT|http://HOST:PORT "
    "[--timeout SECONDS] [TLS]\n"
    "  TLS: [--ca PEM] [--cert PEM --key PEM] [--server-name NAME]; https:// "
    "targets and any of these use TLS\n"
    "  auth: [--token TOKEN | --token-file FILE] (Authorization: Bearer)\n"
    "  asap validate [--check-time] FILE|-\n";

// Parsed command line: --name value / --name=value flags and positionals.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
};

// Flags that take no value.
bool IsSwitch(const std::string& name) { return name == "check-time"; }

absl::StatusOr<Args> ParseArgs(int argc, char** argv, int first) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-" || !absl::StartsWith(arg, "--")) {
      args.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (IsSwitch(name)) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value"));
    }
    args.flags[name] = value;
  }
  return args;
}

absl::Status CheckFlags(const Args& args,
                        const std::vector<std::string>& allowed) {
  for (const auto& [name, value] : args.flags) {
    bool known = false;
    for (const std::string& a : allowed) known = known || a == name;
    if (!known) return absl::InvalidArgumentError("unknown flag --" + name);
  }
  return absl::OkStatus();
}

std::string Flag(const Args& args, const std::string& name,
                 const std::string& fallback = "") {
  auto it = args.flags.find(name);
  return it == args.flags.end() ? fallback : it->second;
}

// One line: "INVALID_ARGUMENT asap:protocol/malformed_envelope: detail".
int Fail(const std::string& command, const absl::Status& status) {
  std::string message(status.message());
  std::optional<ErrorCode> code = ErrorCodeOf(status);
  if (code && !absl::StartsWith(message, "asap:")) {
    message = absl::StrCat(ErrorCodeName(*code), ": ", message);
  }
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::cerr << "asap " << command << ": "
            << absl::StatusCodeToString(status.code()) << " " << message
            << "\n";
  return 1;
}

int Usage(const std::string& problem) {
  std::cerr << "asap: " << problem << "\n" << kUsage;
  return 2;
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin),
                       std::istreambuf_iterator<char>());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

absl::StatusOr<absl::Duration> TimeoutFlag(const Args& args) {
  double seconds = 30;
  std::string text = Flag(args, "timeout", "30");
  if (!absl::SimpleAtod(text, &seconds) || seconds <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout must be a positive number of seconds, got '", text, "'"));
  }
  return absl::Seconds(seconds);
}

absl::StatusOr<std::unique_ptr<AsapClient>> ClientFor(const Args& args) {
  ClientOptions options;
  options.target = Flag(args, "target");
  if (options.target.empty()) {
    return absl::InvalidArgumentError(
        "--target HOST:PORT (gRPC) or http://HOST:PORT is required");
  }
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(args);
  if (!timeout.ok()) return timeout.status();
  options.timeout = *timeout;
  absl::StatusOr<Compression> compression =
      ParseCompression(Flag(args, "compression", "br"));
  if (!compression.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--compression: ", compression.status().message()));
  }
  options.compression.algorithm = *compression;
  // Any TLS flag turns TLS on (an https:// target always has it).
  options.tls.ca_file = Flag(args, "ca");
  options.tls.cert_file = Flag(args, "cert");
  options.tls.key_file = Flag(args, "key");
  options.tls.server_name = Flag(args, "server-name");
  options.tls.enabled = !options.tls.ca_file.empty() ||
                        !options.tls.cert_file.empty() ||
                        !options.tls.server_name.empty() ||
                        absl::StartsWith(options.target, "https://");
  std::string token = Flag(args, "token");
  if (std::string path = Flag(args, "token-file"); !path.empty()) {
    if (!token.empty()) {
      return absl::InvalidArgumentError(
          "--token and --token-file are alternatives");
    }
    absl::StatusOr<std::string> text = ReadInput(path);
    if (!text.ok()) return text.status();
    token = std::string(absl::StripAsciiWhitespace(*text));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file ", path, " is empty"));
    }
  }
  if (!token.empty()) options.token_provider = StaticToken(std::move(token));
  return AsapClient::Create(std::move(options));
}

// The authentication and rate-limit flags of serve.
absl::Status AuthFlags(const Args& args, ServerOptions* options) {
  std::vector<std::unique_ptr<TokenValidator>> validators;
  if (std::string path = Flag(args, "auth-tokens"); !path.empty()) {
    absl::StatusOr<std::unique_ptr<StaticTokenValidator>> table =
        StaticTokenValidator::FromFile(path);
    if (!table.ok()) return table.status();
    validators.push_back(*std::move(table));
  }
  std::string jwt_key = Flag(args, "jwt-key");
  if (!jwt_key.empty()) {
    JwtOptions jwt;
    jwt.issuer = Flag(args, "jwt-issuer");
    jwt.audience = Flag(args, "jwt-audience");
    absl::StatusOr<std::unique_ptr<JwtValidator>> verifier =
        JwtValidator::FromKeyFile(jwt_key, std::move(jwt));
    if (!verifier.ok()) return verifier.status();
    validators.push_back(*std::move(verifier));
  } else if (!Flag(args, "jwt-issuer").empty() ||
             !Flag(args, "jwt-audience").empty()) {
    return absl::InvalidArgumentError(
        "--jwt-issuer and --jwt-audience need --jwt-key");
  }
  if (!validators.empty()) {
    absl::StatusOr<std::unique_ptr<TokenValidator>> any =
        AnyOfValidators(std::move(validators));
    if (!any.ok()) return any.status();
    options->auth.token_validator = *std::move(any);
  }
  std::string client_certs = Flag(args, "auth-client-certs", "false");
  if (client_certs != "true" && client_certs != "false") {
    return absl::InvalidArgumentError(
        "--auth-client-certs must be true or false");
  }
  options->auth.client_certificates = client_certs == "true";
  if (std::string limits = Flag(args, "rate-limit"); !limits.empty()) {
    absl::StatusOr<std::vector<RateLimit>> parsed = ParseRateLimits(limits);
    if (!parsed.ok()) return parsed.status();
    options->rate_limit.enabled = !parsed->empty();
    options->rate_limit.limits = *std::move(parsed);
  }
  return absl::OkStatus();
}

// --redis: nonces and handler responses in Redis, shared by the replicas
// that use the same Redis (server/state/redis_stores.h).
absl::Status RedisFlags(const Args& args, ServerOptions* options) {
  std::string fail_open = Flag(args, "redis-fail-open", "false");
  if (fail_open != "true" && fail_open != "false") {
    return absl::InvalidArgumentError(
        "--redis-fail-open must be true or false");
  }
  std::string url = Flag(args, "redis");
  if (url.empty()) {
    if (fail_open == "true") {
      return absl::InvalidArgumentError("--redis-fail-open needs --redis");
    }
    return absl::OkStatus();
  }
  RedisOptions redis;
  redis.url = url;
  redis.fail_open = fail_open == "true";
  absl::StatusOr<RedisStores> stores = MakeRedisStores(
      std::move(redis),
      options->validation.max_age + options->validation.max_future,
      static_cast<size_t>(options->max_message_bytes),
      NonceStoreOptions{options->limits.max_nonce_bytes,
                        options->limits.max_nonces});
  if (!stores.ok()) return stores.status();
  options->replay_store = stores->replay;
  options->idempotency_store = stores->idempotency;
  return absl::OkStatus();
}

int Serve(const Args& command_line) {
  std::vector<std::string> flags = ServeConfigKeys();
  flags.push_back("config");
  if (absl::Status s = CheckFlags(command_line, flags); !s.ok()) {
    return Usage(std::string(s.message()));
  }
  // The file's settings fill in the flags the command line does not give.
  Args args = command_line;
  if (std::string path = Flag(command_line, "config"); !path.empty()) {
    absl::StatusOr<ServeFlags> file = ReadServeConfig(path);
    if (!file.ok()) {
      // One line, like every failure, but a usage error: exit 2.
      std::cerr << "asap serve: --config " << file.status().message() << "\n";
      return 2;
    }
    for (auto& [name, value] : *file) args.flags.emplace(name, value);
  }
  // Before gRPC starts any thread; SIGHUP reloads the certificates.
  ShutdownSignals signals(/*with_reload=*/true);
  int port = 0;
  if (!absl::SimpleAtoi(Flag(args, "port", "0"), &port) || port < 0 ||
      port > 65535) {
    return Usage("--port must be a number from 0 to 65535");
  }
  std::string http_port = Flag(args, "http-port");
  int http_port_number = 0;
  if (!http_port.empty() &&
      (!absl::SimpleAtoi(http_port, &http_port_number) ||
       http_port_number < 0 || http_port_number > 65535)) {
    return Usage("--http-port must be a number from 0 to 65535");
  }
  std::string host = Flag(args, "host", "127.0.0.1");
  ServerOptions options;
  options.address = absl::StrCat(host, ":", port);
  if (!http_port.empty()) {
    options.http_address = absl::StrCat(host, ":", http_port_number);
  }
  options.tls.cert_file = Flag(args, "tls-cert");
  options.tls.key_file = Flag(args, "tls-key");
  options.tls.client_ca_file = Flag(args, "tls-client-ca");
  absl::StatusOr<CallLogLevel> log_level =
      ParseCallLogLevel(Flag(args, "log-level", "off"));
  if (!log_level.ok()) {
    return Usage("--log-level must be off, error, warning or info");
  }
  absl::StatusOr<CallLogFormat> log_format =
      ParseCallLogFormat(Flag(args, "log-format", "text"));
  if (!log_format.ok()) return Usage("--log-format must be text or json");
  options.call_log.level = *log_level;
  options.call_log.format = *log_format;
  if (absl::Status s = AuthFlags(args, &options); !s.ok()) {
    return Fail("serve", s);
  }
  if (absl::Status s = RedisFlags(args, &options); !s.ok()) {
    return Fail("serve", s);
  }
  options.manifest = EchoManifest("");
  if (std::string path = Flag(args, "manifest"); !path.empty()) {
    absl::StatusOr<std::string> text = ReadInput(path);
    if (!text.ok()) return Fail("serve", text.status());
    absl::StatusOr<v1::Manifest> manifest = ManifestFromJson(*text);
    if (!manifest.ok()) return Fail("serve", manifest.status());
    options.manifest = *std::move(manifest);
  }
  auto server = AsapServer::Start(std::move(options), EchoHandlers());
  if (!server.ok()) return Fail("serve", server.status());
  std::cout << "listening on " << (*server)->address() << std::endl;
  if (!http_port.empty()) {
    std::cout << "http listening on " << (*server)->http_address() << std::endl;
  }
  int signal = signals.Wait();
  while (signal == SIGHUP) {
    absl::Status reloaded = (*server)->ReloadTls();
    if (reloaded.ok()) {
      std::cerr << "asap serve: SIGHUP, certificates reloaded\n";
    } else {
      std::cerr << "asap serve: SIGHUP, kept the old certificates: "
                << reloaded.message() << "\n";
    }
    signal = signals.Wait();
  }
  std::cerr << "asap serve: signal " << signal
            << ", finishing calls in flight\n";
  (*server)->Shutdown(absl::Seconds(5));
  (*server)->Wait();
  return 0;
}

int Send(const Args& args) {
  if (absl::Status s =
          CheckFlags(args, {"target", "timeout", "compression", "ca", "cert",
                            "key", "server-name", "token", "token-file"});
      !s.ok()) {
    return Usage(std::string(s.message()));
  }
  if (args.positional.size() != 1) return Usage("send takes one FILE or -");
  absl::StatusOr<std::string> text = ReadInput(args.positional[0]);
  if (!text.ok()) return Fail("send", text.status());
  absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJson(*text);
  if (!envelope.ok()) return Fail("send", envelope.status());
  auto client = ClientFor(args);
  if (!client.ok()) return Usage(std::string(client.status().message()));
  absl::StatusOr<v1::Envelope> response = (*client)->Send(*envelope);
  if (!response.ok()) return Fail("send", response.status());
  std::cout << ToJson(*response, {.pretty = true}) << "\n";
  return 0;
}

int Manifest(const Args& args) {
  if (absl::Status s =
          CheckFlags(args, {"target", "timeout", "ca", "cert", "key",
                            "server-name", "token", "token-file"});
      !s.ok()) {
    return Usage(std::string(s.message()));
  }
  if (!args.positional.empty()) return Usage("manifest takes no FILE");
  auto client = ClientFor(args);
  if (!client.ok()) return Usage(std::string(client.status().message()));
  absl::StatusOr<v1::Manifest> manifest = (*client)->GetManifest();
  if (!manifest.ok()) return Fail("manifest", manifest.status());
  std::cout << ToJson(*manifest, {.pretty = true}) << "\n";
  return 0;
}

int Validate(const Args& args) {
  if (absl::Status s = CheckFlags(args, {"check-time"}); !s.ok()) {
    return Usage(std::string(s.message()));
  }
  if (args.positional.size() != 1) return Usage("validate takes one FILE or -");
  absl::StatusOr<std::string> text = ReadInput(args.positional[0]);
  if (!text.ok()) return Fail("validate", text.status());
  // An envelope has a payload_type; a manifest has capabilities.
  google::protobuf::Struct object;
  if (absl::Status s = FromJson(*text, &object, ErrorCode::kMalformedEnvelope);
      !s.ok()) {
    return Fail("validate", s);
  }
  bool is_manifest = object.fields().contains("capabilities") &&
                     !object.fields().contains("payload_type");
  if (is_manifest) {
    absl::StatusOr<v1::Manifest> manifest = ManifestFromJson(*text);
    if (!manifest.ok()) return Fail("validate", manifest.status());
    if (absl::Status s = ValidateManifest(*manifest); !s.ok()) {
      return Fail("validate", s);
    }
    std::cout << "valid manifest " << manifest->id() << "\n";
    return 0;
  }
  absl::StatusOr<v1::Envelope> envelope = EnvelopeFromJson(*text);
  if (!envelope.ok()) return Fail("validate", envelope.status());
  ValidationOptions options;
  options.check_timestamp_window = Flag(args, "check-time") == "true";
  if (absl::Status s = ValidateEnvelope(*envelope, absl::Now(), options);
      !s.ok()) {
    return Fail("validate", s);
  }
  std::cout << "valid envelope " << envelope->id() << " ("
            << envelope->payload_type() << ")\n";
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2) return Usage("missing command");
  std::string command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<Args> args = ParseArgs(argc, argv, 2);
  if (!args.ok()) return Usage(std::string(args.status().message()));
  if (command == "serve") return Serve(*args);
  if (command == "send") return Send(*args);
  if (command == "manifest") return Manifest(*args);
  if (command == "validate") return Validate(*args);
  return Usage("unknown command '" + command + "'");
}

}  // namespace asap::cli

int main(int argc, char** argv) { return asap::cli::Main(argc, argv); }
