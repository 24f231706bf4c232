#include "asap/manifest.h"

#include "asap/errors.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

v1::Manifest ValidManifest() {
  v1::Manifest m;
  m.set_id("urn:asap:agent:research-v1");
  m.set_name("Research");
  m.set_version("1.2.3");
  m.set_description("Does research");
  m.mutable_capabilities()->set_asap_version("0.1");
  m.mutable_endpoints()->set_asap("127.0.0.1:50051");
  return m;
}

TEST(ValidateManifestTest, AcceptsValid) {
  EXPECT_TRUE(ValidateManifest(ValidManifest()).ok());
}

TEST(ValidateManifestTest, RejectsBadId) {
  v1::Manifest m = ValidManifest();
  m.set_id("research");
  EXPECT_EQ(ErrorCodeOf(ValidateManifest(m)), ErrorCode::kMalformedManifest);
}

TEST(ValidateManifestTest, RejectsNonSemanticVersion) {
  v1::Manifest m = ValidManifest();
  m.set_version("1.2");
  EXPECT_EQ(ErrorCodeOf(ValidateManifest(m)), ErrorCode::kMalformedManifest);
}

TEST(ValidateManifestTest, RequiresEndpointAndCapabilities) {
  v1::Manifest m = ValidManifest();
  m.mutable_endpoints()->clear_asap();
  EXPECT_EQ(ErrorCodeOf(ValidateManifest(m)), ErrorCode::kMalformedManifest);
  m = ValidManifest();
  m.clear_capabilities();
  EXPECT_EQ(ErrorCodeOf(ValidateManifest(m)), ErrorCode::kMalformedManifest);
}

TEST(ValidateManifestTest, RejectsSkillWithoutDescription) {
  v1::Manifest m = ValidManifest();
  m.mutable_capabilities()->add_skills()->set_id("s");
  EXPECT_EQ(ErrorCodeOf(ValidateManifest(m)), ErrorCode::kMalformedManifest);
}

TEST(ValidateManifestTest, UnknownAuthSchemeIsUnsupportedScheme) {
  v1::Manifest m = ValidManifest();
  m.mutable_auth()->add_schemes("bearer");
  EXPECT_TRUE(ValidateManifest(m).ok());
  m.mutable_auth()->add_schemes("kerberos");
  EXPECT_EQ(ErrorCodeOf(ValidateManifest(m)),
            ErrorCode::kUnsupportedAuthScheme);
}

TEST(SemanticVersionTest, Cases) {
  EXPECT_TRUE(IsSemanticVersion("0.1.0"));
  EXPECT_TRUE(IsSemanticVersion("1.0.0-alpha.1+build.5"));
  EXPECT_FALSE(IsSemanticVersion("01.0.0"));
  EXPECT_FALSE(IsSemanticVersion("1.0.0-"));
  EXPECT_FALSE(IsSemanticVersion("v1.0.0"));
}

}  // namespace
}  // namespace asap
