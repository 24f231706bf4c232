// Manifest rules of ASAP v1.0.
//
//   absl::StatusOr<asap::v1::Manifest> manifest = asap::ManifestFromJson(text);
//   absl::Status status = asap::ValidateManifest(*manifest);
#ifndef ASAP_MANIFEST_H_
#define ASAP_MANIFEST_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asap/v1/manifest.pb.h"

namespace asap {

// Checks a manifest: id is an agent URN; name, version and description set;
// version is a semantic version (MAJOR.MINOR.PATCH[-pre][+build]);
// capabilities and endpoints.asap set; every skill has an id and a
// description; auth schemes are among bearer, basic and oauth2. Returns
// asap:protocol/malformed_manifest, or asap:auth/unsupported_scheme for an
// unknown auth scheme.
absl::Status ValidateManifest(const v1::Manifest& manifest);

// True for MAJOR.MINOR.PATCH with optional -prerelease and +build parts.
bool IsSemanticVersion(absl::string_view version);

}  // namespace asap

#endif  // ASAP_MANIFEST_H_
