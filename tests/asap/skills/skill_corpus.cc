#include "tests/asap/skills/skill_corpus.h"

#include <cstdint>
#include <limits>
#include <string>

#include "google/protobuf/any.pb.h"

namespace asap::skills::testing {

using test::skills::Color;
using test::skills::Everything;
using test::skills::Scalars;
using test::skills::SumRequest;
using test::skills::Tree;
using test::skills::WellKnown;

Scalars ExtremeScalars() {
  Scalars s;
  s.set_int32_value(std::numeric_limits<int32_t>::min());
  s.set_int64_value(std::numeric_limits<int64_t>::min());
  s.set_uint32_value(std::numeric_limits<uint32_t>::max());
  s.set_uint64_value(std::numeric_limits<uint64_t>::max());
  s.set_sint32_value(-7);
  s.set_sint64_value((int64_t{1} << 53) + 1);
  s.set_fixed32_value(42);
  s.set_fixed64_value(uint64_t{1} << 63);
  s.set_sfixed32_value(std::numeric_limits<int32_t>::max());
  s.set_sfixed64_value(-(int64_t{1} << 60));
  s.set_float_value(0.1f);
  s.set_double_value(1e308);
  s.set_bool_value(true);
  s.set_string_value("h\xC3\xA9llo \"quoted\" \\ \n");
  s.set_bytes_value(std::string("\x00\x01\xFF bytes", 9));
  s.set_color(test::skills::COLOR_GREEN);
  s.set_maybe_count(0);
  return s;
}

Everything FullEverything() {
  Everything e;
  *e.mutable_scalars() = ExtremeScalars();
  Scalars* small = e.add_scalar_list();
  small->set_float_value(3.4028235e38f);
  small->set_double_value(-0.5);
  Scalars* odd = e.add_scalar_list();
  odd->set_float_value(std::numeric_limits<float>::quiet_NaN());
  odd->set_double_value(-std::numeric_limits<double>::infinity());
  odd->set_float_value(1.17549435e-38f);
  odd->set_color(static_cast<Color>(7));  // an open enum's unknown value
  e.add_counts(-1);
  e.add_counts(std::numeric_limits<int64_t>::max());
  e.add_colors(test::skills::COLOR_RED);
  e.add_colors(test::skills::COLOR_UNSPECIFIED);
  e.add_tags("a");
  e.add_tags("");
  (*e.mutable_word_counts())["one"] = 1;
  (*e.mutable_word_counts())["zero"] = 0;
  Tree& tree = (*e.mutable_trees_by_id())[-12];
  tree.set_label("root");
  tree.add_children()->set_label("leaf");
  (*e.mutable_trees_by_id())[0];
  (*e.mutable_flags())[true] = "yes";
  (*e.mutable_flags())[false] = "";
  (*e.mutable_color_by_name())["r"] = test::skills::COLOR_RED;
  e.mutable_tree()->add_children()->add_children()->set_label("deep");
  WellKnown* w = e.mutable_well_known();
  w->mutable_created_at()->set_seconds(1764424800);
  w->mutable_created_at()->set_nanos(120000000);
  w->mutable_timeout()->set_seconds(-3);
  w->mutable_timeout()->set_nanos(-500);
  auto& attributes = *w->mutable_attributes()->mutable_fields();
  attributes["n"].set_number_value(1.5);
  attributes["s"].set_string_value("x");
  attributes["z"].set_null_value(google::protobuf::NULL_VALUE);
  attributes["l"].mutable_list_value()->add_values()->set_bool_value(false);
  w->mutable_anything()->set_string_value("any");
  w->mutable_list()->add_values()->set_number_value(2);
  w->mutable_int32_wrapper()->set_value(0);
  w->mutable_int64_wrapper()->set_value(-(int64_t{1} << 62));
  w->mutable_uint32_wrapper()->set_value(5);
  w->mutable_uint64_wrapper()->set_value(uint64_t{1} << 63);
  w->mutable_float_wrapper()->set_value(2.5f);
  w->mutable_double_wrapper()->set_value(0.1);
  w->mutable_bool_wrapper()->set_value(false);
  w->mutable_string_wrapper()->set_value("wrapped");
  w->mutable_bytes_wrapper()->set_value("\xFE");
  Scalars packed;
  packed.set_int64_value(5);
  w->mutable_packed()->PackFrom(packed);
  w->mutable_mask()->add_paths("scalars.int32_value");
  w->mutable_mask()->add_paths("tags");
  w->mutable_nothing();
  e.set_number_choice(0);
  e.mutable_nested()->set_note("n");
  e.mutable_nested()->mutable_back()->set_text_choice("inner");
  return e;
}

SumRequest SumRequestOf(int count) {
  SumRequest request;
  for (int i = 0; i < count; ++i) request.add_values(i * 1000003);
  request.set_label("benchmark");
  request.set_color(test::skills::COLOR_RED);
  return request;
}

std::vector<std::unique_ptr<google::protobuf::Message>> Corpus() {
  std::vector<std::unique_ptr<google::protobuf::Message>> corpus;
  auto add = [&corpus](const google::protobuf::Message& message) {
    corpus.emplace_back(message.New());
    corpus.back()->CopyFrom(message);
  };
  add(Scalars());
  add(ExtremeScalars());
  add(FullEverything());
  add(Everything());
  add(SumRequestOf(0));
  add(SumRequestOf(16));
  Everything choice;
  choice.set_text_choice("");
  add(choice);
  choice.mutable_tree_choice();
  add(choice);
  Scalars one;
  one.set_float_value(-1.0e-45f);
  add(one);
  one.set_double_value(5e-324);
  one.set_float_value(16777217.0f);
  add(one);
  WellKnown wrappers;
  wrappers.mutable_double_wrapper();
  wrappers.mutable_string_wrapper();
  wrappers.mutable_created_at();
  wrappers.set_null_value(google::protobuf::NULL_VALUE);
  add(wrappers);
  return corpus;
}

}  // namespace asap::skills::testing
