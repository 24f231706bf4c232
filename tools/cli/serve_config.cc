#include "tools/cli/serve_config.h"

// toml++ is used header-only and without exceptions (TOML_HEADER_ONLY=1,
// TOML_EXCEPTIONS=0 from the BUILD file): toml::parse returns a result that
// holds either the table or the error.
#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/call_log.h"
#include "server/security/rate_limiter.h"

namespace asap::cli {
namespace {

enum class Kind {
  kString,
  kPath,
  kPort,
  kBool,
  kRateLimit,
  kLogLevel,
  kLogFormat
};

struct Key {
  const char* name;
  Kind kind;
};

// Every flag of `asap serve` but --config, with the TOML type it takes.
constexpr Key kKeys[] = {
    {"host", Kind::kString},          {"port", Kind::kPort},
    {"http-port", Kind::kPort},       {"manifest", Kind::kPath},
    {"tls-cert", Kind::kPath},        {"tls-key", Kind::kPath},
    {"tls-client-ca", Kind::kPath},   {"auth-tokens", Kind::kPath},
    {"jwt-key", Kind::kPath},         {"jwt-issuer", Kind::kString},
    {"jwt-audience", Kind::kString},  {"auth-client-certs", Kind::kBool},
    {"rate-limit", Kind::kRateLimit}, {"redis", Kind::kString},
    {"redis-fail-open", Kind::kBool}, {"log-level", Kind::kLogLevel},
    {"log-format", Kind::kLogFormat},
};

// `text` fit for a one-line message: at most `max` bytes, control
// characters and non-ASCII bytes as '?'.
std::string Printable(absl::string_view text, size_t max = 64) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F) c = '?';
  }
  if (text.size() > max) out += "...";
  return out;
}

absl::Status ErrorAt(absl::string_view name, const toml::source_region& where,
                     absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(name, ":", where.begin.line, ": ", what));
}

absl::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "a list";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

bool IsAbsolute(absl::string_view path) {
  return !path.empty() && path.front() == '/';
}

// The value of one key, as the flag's text; `base_dir` for relative paths.
absl::StatusOr<std::string> FlagValue(const Key& key, const toml::node& node,
                                      absl::string_view name,
                                      absl::string_view base_dir) {
  auto wrong_type = [&](absl::string_view expected) {
    return ErrorAt(name, node.source(),
                   absl::StrCat("'", key.name, "' must be ", expected, ", got ",
                                TypeName(node)));
  };
  switch (key.kind) {
    case Kind::kPort: {
      const toml::value<int64_t>* port = node.as_integer();
      if (port == nullptr || port->get() < 0 || port->get() > 65535) {
        return port == nullptr
                   ? wrong_type("an integer from 0 to 65535")
                   : ErrorAt(name, node.source(),
                             absl::StrCat("'", key.name,
                                          "' must be from 0 to 65535, got ",
                                          port->get()));
      }
      return absl::StrCat(port->get());
    }
    case Kind::kBool: {
      const toml::value<bool>* value = node.as_boolean();
      if (value == nullptr) return wrong_type("true or false");
      return std::string(value->get() ? "true" : "false");
    }
    case Kind::kRateLimit: {
      std::string text;
      if (const toml::array* list = node.as_array(); list != nullptr) {
        std::vector<std::string> parts;
        for (const toml::node& part : *list) {
          const toml::value<std::string>* limit = part.as_string();
          if (limit == nullptr) {
            return wrong_type("a string or a list of strings (\"10/s\")");
          }
          parts.push_back(limit->get());
        }
        text = absl::StrJoin(parts, ",");
      } else if (const toml::value<std::string>* limit = node.as_string();
                 limit != nullptr) {
        text = limit->get();
      } else {
        return wrong_type("a string or a list of strings (\"10/s\")");
      }
      if (absl::StatusOr<std::vector<RateLimit>> limits = ParseRateLimits(text);
          !limits.ok()) {
        return ErrorAt(name, node.source(),
                       absl::StrCat("'rate-limit': ",
                                    Printable(limits.status().message(), 200)));
      }
      return text;
    }
    case Kind::kString:
    case Kind::kPath:
    case Kind::kLogLevel:
    case Kind::kLogFormat:
      break;
  }
  const toml::value<std::string>* value = node.as_string();
  if (value == nullptr) return wrong_type("a string");
  const std::string& text = value->get();
  absl::Status invalid;
  if (key.kind == Kind::kLogLevel) {
    invalid = ParseCallLogLevel(text).status();
  } else if (key.kind == Kind::kLogFormat) {
    invalid = ParseCallLogFormat(text).status();
  }
  if (!invalid.ok()) {
    return ErrorAt(name, node.source(),
                   absl::StrCat("'", key.name, "': ", invalid.message()));
  }
  if (key.kind == Kind::kPath && !text.empty() && !base_dir.empty() &&
      !IsAbsolute(text)) {
    return absl::StrCat(base_dir, base_dir.back() == '/' ? "" : "/", text);
  }
  return text;
}

}  // namespace

const std::vector<std::string>& ServeConfigKeys() {
  static const auto* keys = [] {
    auto* names = new std::vector<std::string>;
    for (const Key& key : kKeys) names->push_back(key.name);
    return names;
  }();
  return *keys;
}

absl::StatusOr<ServeFlags> ParseServeConfig(absl::string_view text,
                                            absl::string_view name,
                                            absl::string_view base_dir) {
  if (text.size() > kMaxServeConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": larger than ", kMaxServeConfigBytes, " bytes"));
  }
  toml::parse_result parsed =
      toml::parse(std::string_view(text.data(), text.size()));
  if (!parsed) {
    const toml::parse_error& error = parsed.error();
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", error.source().begin.line, ":",
                     error.source().begin.column, ": ",
                     Printable(absl::string_view(error.description().data(),
                                                 error.description().size()),
                               200)));
  }
  ServeFlags flags;
  for (const auto& [key, node] : parsed.table()) {
    const Key* known = std::find_if(
        std::begin(kKeys), std::end(kKeys),
        [&key = key](const Key& k) { return key.str() == k.name; });
    if (known == std::end(kKeys)) {
      return ErrorAt(
          name, key.source(),
          absl::StrCat("unknown key '", Printable(std::string(key.str())),
                       "' (keys: ", absl::StrJoin(ServeConfigKeys(), ", "),
                       ")"));
    }
    absl::StatusOr<std::string> value = FlagValue(*known, node, name, base_dir);
    if (!value.ok()) return value.status();
    flags[known->name] = *std::move(value);
  }
  return flags;
}

absl::StatusOr<ServeFlags> ReadServeConfig(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::NotFoundError(absl::StrCat("'", path, "' is a folder"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  }
  // One byte past the limit tells a file at the limit from a bigger one,
  // without reading the rest of a huge one.
  std::string text(kMaxServeConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  }
  size_t slash = path.rfind('/');
  std::string base_dir =
      slash == std::string::npos ? "" : path.substr(0, slash == 0 ? 1 : slash);
  return ParseServeConfig(text, path, base_dir);
}

}  // namespace asap::cli
