#include "asap/auth/static_token_validator.h"

#include <fstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asap/errors.h"
#include "asap/ids.h"

namespace asap {
namespace {

constexpr char kFieldSeparators[] = " \t\r\f\v";

absl::Status LineError(absl::string_view source_name, size_t line_number,
                       absl::string_view detail) {
  return absl::InvalidArgumentError(
      absl::StrCat(source_name, ":", line_number, ": ", detail));
}

bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StaticTokenValidator>>
StaticTokenValidator::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file: cannot read '", path, "'"));
  }
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxTokenFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file: '", path, "' is larger than ",
                       kMaxTokenFileBytes, " bytes"));
    }
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file: cannot read '", path, "'"));
  }
  return FromText(text, path);
}

absl::StatusOr<std::unique_ptr<StaticTokenValidator>>
StaticTokenValidator::FromText(absl::string_view text,
                               absl::string_view source_name) {
  if (text.size() > kMaxTokenFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, " is larger than ", kMaxTokenFileBytes, " bytes"));
  }
  absl::flat_hash_map<std::string, std::string> agents_by_digest;
  // TokenDigest(token) -> the line it was first seen on.
  absl::flat_hash_map<std::string, size_t> first_line;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(
        line, absl::ByAnyChar(kFieldSeparators), absl::SkipEmpty());
    if (fields.size() != 2) {
      return LineError(source_name, line_number,
                       absl::StrCat("expected 'TOKEN AGENT_URN', found ",
                                    fields.size(), " fields"));
    }
    absl::string_view token = fields[0];
    absl::string_view agent = fields[1];
    // Neither field is quoted: with the columns swapped, the second one would
    // be the token.
    if (!IsAgentUrn(agent)) {
      return LineError(source_name, line_number,
                       "the second field is not an agent URN "
                       "(urn:asap:agent:NAME)");
    }
    if (token.size() < kMinStaticTokenBytes) {
      return LineError(source_name, line_number,
                       absl::StrCat("the token is shorter than ",
                                    kMinStaticTokenBytes, " bytes"));
    }
    if (!IsPrintableAscii(token)) {
      return LineError(source_name, line_number,
                       "the token has a byte outside printable ASCII");
    }
    std::string digest = TokenDigest(token);
    if (digest.empty()) {
      return absl::InternalError("cannot compute SHA-256 of a token");
    }
    auto [seen, inserted] = first_line.emplace(digest, line_number);
    if (!inserted) {
      return LineError(
          source_name, line_number,
          absl::StrCat("duplicate token (first on line ", seen->second, ")"));
    }
    agents_by_digest.emplace(std::move(digest), std::string(agent));
  }
  if (agents_by_digest.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, " holds no tokens"));
  }
  return std::unique_ptr<StaticTokenValidator>(
      new StaticTokenValidator(std::move(agents_by_digest)));
}

absl::StatusOr<std::string> StaticTokenValidator::Validate(
    absl::string_view token) const {
  if (token.empty()) {
    return AsapError(ErrorCode::kUnauthenticated, "no bearer token");
  }
  auto it = agents_by_digest_.find(TokenDigest(token));
  if (it == agents_by_digest_.end()) {
    return AsapError(ErrorCode::kUnauthenticated, "unknown bearer token");
  }
  return it->second;
}

}  // namespace asap
