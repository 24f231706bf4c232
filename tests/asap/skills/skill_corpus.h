// Messages of skill_types.proto with every kind of value the Protobuf JSON
// mapping knows, for the conversion tests and benchmarks.
#ifndef ASAP_TESTS_ASAP_SKILLS_SKILL_CORPUS_H_
#define ASAP_TESTS_ASAP_SKILLS_SKILL_CORPUS_H_

#include <memory>
#include <vector>

#include "google/protobuf/message.h"
#include "tests/asap/skills/testdata/skill_types.pb.h"

namespace asap::skills::testing {

// Scalars at their extremes (int64 past 2^53, NaN, denormal floats, ...).
test::skills::Scalars ExtremeScalars();

// An Everything with each field set: nested, repeated, maps, oneof, WKTs.
test::skills::Everything FullEverything();

// A SumRequest of `count` values.
test::skills::SumRequest SumRequestOf(int count);

// The corpus: the messages above and smaller variants (empty, one field,
// each oneof member, proto3 optional set to 0, ...).
std::vector<std::unique_ptr<google::protobuf::Message>> Corpus();

}  // namespace asap::skills::testing

#endif  // ASAP_TESTS_ASAP_SKILLS_SKILL_CORPUS_H_
