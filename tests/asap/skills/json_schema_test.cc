// JSON Schemas of messages, pinned by golden files in testdata/ (rewrite them
// with //tests/asap/skills:print_schemas after a deliberate change).
#include "asap/skills/json_schema.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/asap/skills/testdata/skill_types.pb.h"

namespace asap::skills {
namespace {

using ::testing::HasSubstr;

std::string Golden(const std::string& name) {
  std::ifstream file("tests/asap/skills/testdata/" + name + ".schema.json");
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "missing golden " << name;
  return text.str();
}

void ExpectGolden(const std::string& name,
                  const google::protobuf::Descriptor& descriptor,
                  const SchemaOptions& options = {}) {
  absl::StatusOr<std::string> schema = JsonSchemaFor(descriptor, options);
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(*schema, Golden(name));
}

TEST(JsonSchemaTest, ScalarsMatchGolden) {
  ExpectGolden("scalars", *test::skills::Scalars::descriptor());
}

TEST(JsonSchemaTest, OriginalFieldNamesMatchGolden) {
  SchemaOptions options;
  options.field_names = FieldNames::kOriginal;
  ExpectGolden("scalars_original_names", *test::skills::Scalars::descriptor(),
               options);
}

TEST(JsonSchemaTest, RecursiveMessageRefersToRoot) {
  ExpectGolden("tree", *test::skills::Tree::descriptor());
  absl::StatusOr<std::string> schema =
      JsonSchemaFor(*test::skills::Tree::descriptor());
  ASSERT_TRUE(schema.ok());
  EXPECT_THAT(*schema, HasSubstr(R"("$ref": "#")"));
}

TEST(JsonSchemaTest, WellKnownTypesMatchGolden) {
  ExpectGolden("well_known", *test::skills::WellKnown::descriptor());
}

TEST(JsonSchemaTest, NestedMapsOneofsAndMutualRecursionMatchGolden) {
  ExpectGolden("everything", *test::skills::Everything::descriptor());
}

TEST(JsonSchemaTest, SkillRequestMatchesGolden) {
  ExpectGolden("sum_request", *test::skills::SumRequest::descriptor());
}

TEST(JsonSchemaTest, StructFormPrintsAsTheText) {
  const auto& descriptor = *test::skills::Everything::descriptor();
  absl::StatusOr<google::protobuf::Struct> schema =
      JsonSchemaStructFor(descriptor);
  ASSERT_TRUE(schema.ok()) << schema.status();
  google::protobuf::Value value;
  *value.mutable_struct_value() = *schema;
  EXPECT_EQ(StableJson(value), *JsonSchemaFor(descriptor));
}

TEST(JsonSchemaTest, TooManyDefinitionsIsResourceExhausted) {
  SchemaOptions options;
  options.max_definitions = 2;
  absl::StatusOr<std::string> schema =
      JsonSchemaFor(*test::skills::Everything::descriptor(), options);
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(schema.status().message(), HasSubstr("max_definitions"));
}

TEST(JsonSchemaTest, TooDeepIsResourceExhausted) {
  SchemaOptions options;
  options.max_depth = 0;
  // Scalars, Tree, WellKnown and Nested sit one level below the root.
  absl::StatusOr<std::string> schema =
      JsonSchemaFor(*test::skills::Everything::descriptor(), options);
  EXPECT_EQ(schema.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(schema.status().message(), HasSubstr("max_depth"));
}

TEST(JsonSchemaTest, WellKnownRootIsItsJsonForm) {
  absl::StatusOr<std::string> schema =
      JsonSchemaFor(*google::protobuf::Timestamp::descriptor());
  ASSERT_TRUE(schema.ok());
  EXPECT_THAT(*schema, HasSubstr(R"("format": "date-time")"));
}

}  // namespace
}  // namespace asap::skills
