// Struct <-> message conversion: the direct walk gives what the Protobuf JSON
// mapping gives, on well-formed and malformed input, and names the field.
#include "asap/skills/struct_codec.h"

#include <memory>
#include <string>
#include <vector>

#include "asap/errors.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/asap/skills/skill_corpus.h"
#include "tests/asap/skills/testdata/skill_types.pb.h"

namespace asap::skills {
namespace {

using ::testing::HasSubstr;

CodecOptions Direct(FieldNames names = FieldNames::kJsonName) {
  CodecOptions options;
  options.conversion = Conversion::kDirect;
  options.field_names = names;
  return options;
}

CodecOptions JsonText(FieldNames names = FieldNames::kJsonName) {
  CodecOptions options;
  options.conversion = Conversion::kJsonText;
  options.field_names = names;
  return options;
}

google::protobuf::Struct StructOf(const std::string& json) {
  google::protobuf::Struct object;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &object).ok())
      << json;
  return object;
}

// Byte-exact: NaN equals NaN, maps compare regardless of order.
std::string Bytes(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

std::string Json(const google::protobuf::Message& message) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out);
  return out;
}

TEST(StructCodecTest, DirectEncodingEqualsJsonMappingOnCorpus) {
  for (FieldNames names : {FieldNames::kJsonName, FieldNames::kOriginal}) {
    for (const auto& message : testing::Corpus()) {
      google::protobuf::Struct direct, reference;
      ASSERT_TRUE(MessageToStruct(*message, &direct, Direct(names)).ok());
      ASSERT_TRUE(MessageToStruct(*message, &reference, JsonText(names)).ok());
      EXPECT_TRUE(
          google::protobuf::util::MessageDifferencer::Equals(direct, reference))
          << message->GetTypeName() << "\n direct:    " << Json(direct)
          << "\n reference: " << Json(reference);
    }
  }
}

TEST(StructCodecTest, BothDecodersRoundTripTheCorpus) {
  for (FieldNames names : {FieldNames::kJsonName, FieldNames::kOriginal}) {
    for (const auto& message : testing::Corpus()) {
      google::protobuf::Struct object;
      ASSERT_TRUE(MessageToStruct(*message, &object, JsonText(names)).ok());
      std::unique_ptr<google::protobuf::Message> direct(message->New());
      std::unique_ptr<google::protobuf::Message> reference(message->New());
      absl::Status direct_status =
          StructToMessage(object, direct.get(), Direct());
      absl::Status reference_status =
          StructToMessage(object, reference.get(), JsonText());
      ASSERT_TRUE(direct_status.ok()) << direct_status;
      ASSERT_TRUE(reference_status.ok()) << reference_status;
      EXPECT_EQ(Bytes(*direct), Bytes(*reference))
          << message->GetTypeName() << " from " << Json(object);
      EXPECT_EQ(Bytes(*direct), Bytes(*message)) << message->GetTypeName();
    }
  }
}

// Inputs the mapping's parser accepts though its printer never writes them.
TEST(StructCodecTest, LenientInputsDecodeAsTheJsonMappingDoes) {
  const std::vector<std::string> inputs = {
      R"({"int32Value": "12", "int64Value": 12, "uint64Value": "18446744073709551615"})",
      R"({"int32_value": 3, "string_value": "proto name"})",
      R"({"color": 2, "floatValue": "1.5", "doubleValue": "-Infinity"})",
      R"({"int32Value": null, "color": null, "boolValue": true})",
      R"({"int64Value": 1e3, "uint32Value": 4294967295})",
      R"({"bytesValue": "_-8="})",
      R"({"maybeCount": 0, "boolValue": "yes"})",
  };
  for (const std::string& input : inputs) {
    test::skills::Scalars direct, reference;
    absl::Status reference_status =
        StructToMessage(StructOf(input), &reference, JsonText());
    ASSERT_TRUE(reference_status.ok()) << input << ": " << reference_status;
    absl::Status direct_status =
        StructToMessage(StructOf(input), &direct, Direct());
    ASSERT_TRUE(direct_status.ok()) << input << ": " << direct_status;
    EXPECT_EQ(Bytes(direct), Bytes(reference)) << input;
  }
}

TEST(StructCodecTest, LenientListsDecodeAsTheJsonMappingDoes) {
  const std::vector<std::string> inputs = {
      R"({"counts": [1, null, "2"]})",
      R"({"tags": "not a list", "colors": "COLOR_RED"})",
      R"({"scalarList": {"int32Value": 1}})",
      R"({"wellKnown": {"anything": null, "int64Wrapper": "5"}})",
  };
  for (const std::string& input : inputs) {
    test::skills::Everything direct, reference;
    absl::Status reference_status =
        StructToMessage(StructOf(input), &reference, JsonText());
    ASSERT_TRUE(reference_status.ok()) << input << ": " << reference_status;
    absl::Status direct_status =
        StructToMessage(StructOf(input), &direct, Direct());
    ASSERT_TRUE(direct_status.ok()) << input << ": " << direct_status;
    EXPECT_EQ(Bytes(direct), Bytes(reference)) << input;
  }
}

struct MalformedCase {
  std::string input;
  // What the direct walk's message names: the path of the bad value.
  std::string field;
};

// Both conversions refuse each case as malformed, and the direct one names
// the field.
template <typename Message>
void ExpectBothRefuse(const std::vector<MalformedCase>& cases) {
  for (const MalformedCase& c : cases) {
    Message direct, reference;
    absl::Status reference_status =
        StructToMessage(StructOf(c.input), &reference, JsonText());
    absl::Status direct_status =
        StructToMessage(StructOf(c.input), &direct, Direct());
    EXPECT_EQ(ErrorCodeOf(reference_status), ErrorCode::kMalformedEnvelope)
        << c.input << ": " << reference_status;
    EXPECT_EQ(ErrorCodeOf(direct_status), ErrorCode::kMalformedEnvelope)
        << c.input << ": " << direct_status;
    EXPECT_THAT(direct_status.message(), HasSubstr(c.field)) << c.input;
  }
}

TEST(StructCodecTest, MalformedInputIsRejectedByBothNamingTheField) {
  const std::vector<MalformedCase> cases = {
      {R"({"int32Value": "many"})", "input.int32Value"},
      {R"({"int32Value": 2147483648})", "input.int32Value"},
      {R"({"uint32Value": -1})", "input.uint32Value"},
      {R"({"int32Value": 1.5})", "input.int32Value"},
      {R"({"int64Value": 1e19})", "input.int64Value"},
      {R"({"floatValue": 1e39})", "input.floatValue"},
      {R"({"boolValue": "maybe"})", "input.boolValue"},
      {R"({"stringValue": 5})", "input.stringValue"},
      {R"({"bytesValue": "not base64!"})", "input.bytesValue"},
      {R"({"color": "COLOR_BLUE"})", "input.color"},
      {R"({"noSuchField": 1})", "input.noSuchField"},
  };
  ExpectBothRefuse<test::skills::Scalars>(cases);
}

TEST(StructCodecTest, NestedErrorsNameTheWholePath) {
  const std::vector<MalformedCase> cases = {
      {R"({"scalarList": [{}, {"int64Value": "x"}]})",
       "input.scalarList[1].int64Value"},
      {R"({"wordCounts": {"a": "b"}})", "input.wordCounts.a"},
      {R"({"treesById": {"x": {}}})", "input.treesById.x"},
      {R"({"flags": {"maybe": "v"}})", "input.flags.maybe"},
      {R"({"colors": ["COLOR_RED", "PURPLE"]})", "input.colors[1]"},
      {R"({"counts": [1, {}]})", "input.counts[1]"},
      {R"({"tree": {"children": [{"label": 3}]}})",
       "input.tree.children[0].label"},
      {R"({"wellKnown": {"createdAt": "yesterday"}})",
       "input.wellKnown.createdAt"},
      {R"({"wellKnown": {"timeout": "5 minutes"}})", "input.wellKnown.timeout"},
      {R"({"wellKnown": {"int32Wrapper": "x"}})",
       "input.wellKnown.int32Wrapper"},
      {R"({"wellKnown": {"attributes": []}})", "input.wellKnown.attributes"},
      {R"({"textChoice": "a", "numberChoice": 1})", "Choice"},
      {R"({"tags": [true]})", "input.tags[0]"},
  };
  ExpectBothRefuse<test::skills::Everything>(cases);
}

TEST(StructCodecTest, DepthIsBounded) {
  test::skills::Tree deep;
  test::skills::Tree* node = &deep;
  for (int i = 0; i < 20; ++i) node = node->add_children();
  google::protobuf::Struct object;
  ASSERT_TRUE(MessageToStruct(deep, &object).ok());
  CodecOptions options;
  options.max_depth = 10;
  test::skills::Tree decoded;
  absl::Status status = StructToMessage(object, &decoded, options);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedEnvelope);
  EXPECT_THAT(status.message(), HasSubstr("deeper than 10"));
  EXPECT_TRUE(StructToMessage(object, &decoded).ok());
}

TEST(StructCodecTest, Int64IsAStringAndFieldsAreLowerCamelCase) {
  test::skills::Scalars scalars;
  scalars.set_int64_value(int64_t{1} << 60);
  google::protobuf::Struct object;
  ASSERT_TRUE(MessageToStruct(scalars, &object).ok());
  EXPECT_EQ(object.fields().at("int64Value").string_value(),
            "1152921504606846976");
}

}  // namespace
}  // namespace asap::skills
