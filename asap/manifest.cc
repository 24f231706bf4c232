#include "asap/manifest.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asap/errors.h"
#include "asap/ids.h"

namespace asap {
namespace {

absl::Status Malformed(absl::string_view detail) {
  return AsapError(ErrorCode::kMalformedManifest, detail);
}

bool IsNumber(absl::string_view part) {
  if (part.empty() || (part.size() > 1 && part[0] == '0')) return false;
  for (char c : part) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsIdentifierList(absl::string_view text) {
  if (text.empty()) return false;
  for (absl::string_view id : absl::StrSplit(text, '.')) {
    if (id.empty()) return false;
    for (char c : id) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

bool IsSemanticVersion(absl::string_view version) {
  absl::string_view core = version;
  size_t plus = core.find('+');
  if (plus != absl::string_view::npos) {
    if (!IsIdentifierList(core.substr(plus + 1))) return false;
    core = core.substr(0, plus);
  }
  size_t dash = core.find('-');
  if (dash != absl::string_view::npos) {
    if (!IsIdentifierList(core.substr(dash + 1))) return false;
    core = core.substr(0, dash);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(core, '.');
  if (parts.size() != 3) return false;
  for (absl::string_view part : parts) {
    if (!IsNumber(part)) return false;
  }
  return true;
}

absl::Status ValidateManifest(const v1::Manifest& manifest) {
  if (!IsAgentUrn(manifest.id())) {
    return Malformed(absl::StrCat("id '", manifest.id().substr(0, 64),
                                  "' is not an agent URN"));
  }
  if (manifest.name().empty()) return Malformed("name is required");
  if (manifest.description().empty()) {
    return Malformed("description is required");
  }
  if (!IsSemanticVersion(manifest.version())) {
    return Malformed(absl::StrCat("version '", manifest.version().substr(0, 64),
                                  "' is not a semantic version (1.2.3)"));
  }
  if (!manifest.has_capabilities())
    return Malformed("capabilities is required");
  for (const v1::Skill& skill : manifest.capabilities().skills()) {
    if (skill.id().empty() || skill.description().empty()) {
      return Malformed("every skill needs an id and a description");
    }
  }
  if (manifest.endpoints().asap().empty()) {
    return Malformed("endpoints.asap is required");
  }
  for (const std::string& scheme : manifest.auth().schemes()) {
    if (scheme != "bearer" && scheme != "basic" && scheme != "oauth2") {
      return AsapError(ErrorCode::kUnsupportedAuthScheme,
                       absl::StrCat("auth scheme '", scheme.substr(0, 64),
                                    "' is not supported (bearer, basic, "
                                    "oauth2)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace asap
