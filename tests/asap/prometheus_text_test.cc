#include "asap/prometheus_text.h"

#include <string>

#include "gtest/gtest.h"

namespace asap {
namespace {

TEST(PrometheusLabelValueTest, EscapesBackslashQuoteAndLineFeed) {
  EXPECT_EQ(PrometheusLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(PrometheusLabelValueTest, CopiesEverythingElse) {
  const std::string value = "dns:///h:1\t\r{}=,\xc3\xa9";
  EXPECT_EQ(PrometheusLabelValue(value), value);
  EXPECT_EQ(PrometheusLabelValue(""), "");
}

TEST(AppendPrometheusHeaderTest, WritesHelpThenType) {
  std::string out = "x 1\n";
  AppendPrometheusHeader("asap_calls_total", "counter", "Calls answered.",
                         &out);
  EXPECT_EQ(out,
            "x 1\n"
            "# HELP asap_calls_total Calls answered.\n"
            "# TYPE asap_calls_total counter\n");
}

}  // namespace
}  // namespace asap
