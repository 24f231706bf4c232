// The generated C++ of hostile.proto compiles (this test builds) and keeps
// each hostile description byte for byte.
#include "gtest/gtest.h"
#include "tests/codegen/hostile.asap.h"

namespace asap::testing::hostile {
namespace {

class Hostile final : public HostileAgent::Service {};

TEST(HostileDescriptionsTest, ReachTheManifestIntact) {
  Hostile agent;
  absl::StatusOr<v1::Manifest> manifest = agent.Manifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->description(),
            "a\n#error injected \\\n\"\"\" import os \xc3\xa9");
  ASSERT_EQ(manifest->capabilities().skills_size(), 2);
  EXPECT_EQ(manifest->capabilities().skills(0).description(),
            "ends in a backslash \\");
  EXPECT_EQ(manifest->capabilities().skills(1).description(),
            "\"); system(\"x\"); (\"");
}

}  // namespace
}  // namespace asap::testing::hostile
