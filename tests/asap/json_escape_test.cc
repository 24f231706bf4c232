#include "asap/json_escape.h"

#include <string>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace asap {
namespace {

std::string Json(absl::string_view text, JsonEscaping escaping) {
  std::string out;
  AppendJsonString(text, escaping, &out);
  return out;
}

constexpr JsonEscaping kAllModes[] = {
    JsonEscaping::kMinimal, JsonEscaping::kProtobuf, JsonEscaping::kAscii};

TEST(JsonEscapeTest, AppendsAfterWhatIsThere) {
  std::string out = "x:";
  AppendJsonString("y", JsonEscaping::kMinimal, &out);
  EXPECT_EQ(out, "x:\"y\"");
}

TEST(JsonEscapeTest, EveryModeEscapesQuotesBackslashesAndCommonControls) {
  for (JsonEscaping escaping : kAllModes) {
    EXPECT_EQ(Json("", escaping), R"("")");
    EXPECT_EQ(Json("a\"b\\c\nd\re\tf", escaping), R"("a\"b\\c\nd\re\tf")");
    EXPECT_EQ(Json(std::string("\0\x01\x1f", 3), escaping),
              R"("\u0000\u0001\u001f")");
  }
}

TEST(JsonEscapeTest, OnlyProtobufHasShortEscapesForBackspaceAndFormFeed) {
  EXPECT_EQ(Json("\b\f", JsonEscaping::kProtobuf), R"("\b\f")");
  EXPECT_EQ(Json("\b\f", JsonEscaping::kMinimal), R"("\u0008\u000c")");
  EXPECT_EQ(Json("\b\f", JsonEscaping::kAscii), R"("\u0008\u000c")");
}

TEST(JsonEscapeTest, OnlyProtobufEscapesAngleBrackets) {
  EXPECT_EQ(Json("<b>", JsonEscaping::kProtobuf), R"("\u003cb\u003e")");
  EXPECT_EQ(Json("<b>", JsonEscaping::kMinimal), R"("<b>")");
  EXPECT_EQ(Json("<b>", JsonEscaping::kAscii), R"("<b>")");
}

TEST(JsonEscapeTest, MinimalCopiesDelAndEveryHighByte) {
  std::string text = "\x7f\xc3\xa9\xe2\x80\xa8\xff";
  EXPECT_EQ(Json(text, JsonEscaping::kMinimal), "\"" + text + "\"");
}

TEST(JsonEscapeTest, AsciiEscapesEveryNonAsciiCharacter) {
  // DEL, e-acute, LINE SEPARATOR, and U+1F600 as a surrogate pair.
  EXPECT_EQ(
      Json("\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80", JsonEscaping::kAscii),
      R"("\u007f\u00e9\u2028\ud83d\ude00")");
}

TEST(JsonEscapeTest, AsciiReplacesEachInvalidByte) {
  // A lone continuation byte, an overlong '/', an encoded surrogate, and a
  // truncated sequence at the end.
  EXPECT_EQ(Json("a\x80z", JsonEscaping::kAscii), R"("a\ufffdz")");
  EXPECT_EQ(Json("\xc0\xaf", JsonEscaping::kAscii), R"("\ufffd\ufffd")");
  EXPECT_EQ(Json("\xed\xa0\x80", JsonEscaping::kAscii),
            R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(Json("ok\xe2\x82", JsonEscaping::kAscii), R"("ok\ufffd\ufffd")");
}

TEST(JsonEscapeTest, ProtobufKeepsPrintableUtf8AndEscapesInvisibles) {
  EXPECT_EQ(Json("caf\xc3\xa9 \xf0\x9f\x98\x80", JsonEscaping::kProtobuf),
            "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  // DEL, a C1 control, SOFT HYPHEN, RIGHT-TO-LEFT OVERRIDE, BOM, and the
  // tag character U+E0041 (a surrogate pair).
  EXPECT_EQ(Json("\x7f\xc2\x85\xc2\xad\xe2\x80\xae\xef\xbb\xbf\xf3\xa0\x81\x81",
                 JsonEscaping::kProtobuf),
            R"("\u007f\u0085\u00ad\u202e\ufeff\udb40\udc41")");
}

TEST(JsonEscapeTest, ProtobufDropsInvalidBytes) {
  EXPECT_EQ(Json("a\x80z\xc0\xaf", JsonEscaping::kProtobuf), R"("az")");
  EXPECT_EQ(Json("\xed\xa0\x80!", JsonEscaping::kProtobuf), R"("!")");
}

// kProtobuf exists to print what protobuf's JSON printer prints.
TEST(JsonEscapeTest, ProtobufMatchesProtobufsPrinter) {
  const std::string samples[] = {
      "plain text",
      std::string("\0\x01\b\t\n\v\f\r\x1b\x1f", 10),
      "\"quoted\" \\ </script> & 'single'",
      "\x7f\xc2\x80\xc2\x9f\xc2\xa0\xc2\xad\xd8\x80\xdb\x9d\xdc\x8f",
      "\xe1\x9e\xb4\xe2\x80\x8b\xe2\x80\x8f\xe2\x80\xa8\xe2\x80\xaf\xe2\x81"
      "\xa0\xe2\x81\xaa\xef\xbb\xbf\xef\xbf\xb9\xef\xbf\xbc",
      "\xf0\x9d\x85\xb3\xf3\xa0\x80\x81\xf3\xa0\x80\xa0\xf0\x9f\x98\x80",
      "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
  };
  for (const std::string& sample : samples) {
    google::protobuf::Value value;
    value.set_string_value(sample);
    std::string expected;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(value, &expected).ok());
    EXPECT_EQ(Json(sample, JsonEscaping::kProtobuf), expected) << sample;
  }
}

}  // namespace
}  // namespace asap
