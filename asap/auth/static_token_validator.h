// A fixed set of opaque bearer tokens, each naming the agent it authenticates,
// read from a token file:
//
//   # TOKEN                              AGENT_URN
//   3f9c1e0d8b7a46c2a1e5d4c3b2a19087     urn:asap:agent:alice
//   b7e2d9f04c6a4e1b9d8c7f6e5a4b3c21     urn:asap:agent:bob
//
// One pair per line, separated by spaces or tabs; blank lines and lines
// starting with '#' are ignored. An agent may have several tokens (rotation).
#ifndef ASAP_AUTH_STATIC_TOKEN_VALIDATOR_H_
#define ASAP_AUTH_STATIC_TOKEN_VALIDATOR_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asap/auth/token_validator.h"

namespace asap {

// Shortest token a token file may hold.
inline constexpr size_t kMinStaticTokenBytes = 16;
// Largest token file read.
inline constexpr size_t kMaxTokenFileBytes = 1024 * 1024;

class StaticTokenValidator : public TokenValidator {
 public:
  // Reads a token file. InvalidArgument naming the file (and the line) when
  // it cannot be read, is larger than kMaxTokenFileBytes, holds no token, or
  // has a line that is not two fields, whose second field is not an agent URN,
  // whose token is shorter than kMinStaticTokenBytes, has a byte outside
  // printable ASCII, or repeats an earlier token. Messages never contain a
  // token.
  static absl::StatusOr<std::unique_ptr<StaticTokenValidator>> FromFile(
      const std::string& path);

  // The same for text already read; `source_name` stands for the file in
  // messages.
  static absl::StatusOr<std::unique_ptr<StaticTokenValidator>> FromText(
      absl::string_view text, absl::string_view source_name);

  // The agent of `token`; asap:auth/unauthenticated "no bearer token" for an
  // empty token and "unknown bearer token" for one not in the file. The token
  // is looked up by its SHA-256 digest.
  absl::StatusOr<std::string> Validate(absl::string_view token) const override;

  // How many tokens the file holds.
  size_t size() const { return agents_by_digest_.size(); }

 private:
  explicit StaticTokenValidator(
      absl::flat_hash_map<std::string, std::string> agents_by_digest)
      : agents_by_digest_(std::move(agents_by_digest)) {}

  // TokenDigest(token) -> agent URN.
  const absl::flat_hash_map<std::string, std::string> agents_by_digest_;
};

}  // namespace asap

#endif  // ASAP_AUTH_STATIC_TOKEN_VALIDATOR_H_
