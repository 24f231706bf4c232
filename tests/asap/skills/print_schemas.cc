// Writes the golden JSON Schemas of skill_types.proto into a directory:
//   bazel run //tests/asap/skills:print_schemas -- DIR
// with DIR = $PWD/tests/asap/skills/testdata to refresh the goldens.
#include <fstream>
#include <iostream>
#include <string>

#include "asap/skills/json_schema.h"
#include "tests/asap/skills/testdata/skill_types.pb.h"

namespace {

bool Write(const std::string& dir, const std::string& name,
           const google::protobuf::Descriptor& descriptor,
           const asap::skills::SchemaOptions& options = {}) {
  absl::StatusOr<std::string> schema =
      asap::skills::JsonSchemaFor(descriptor, options);
  if (!schema.ok()) {
    std::cerr << name << ": " << schema.status() << "\n";
    return false;
  }
  std::ofstream(dir + "/" + name + ".schema.json") << *schema;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: print_schemas DIR\n";
    return 2;
  }
  using namespace asap::test::skills;  // NOLINT: one-off tool
  std::string dir = argv[1];
  asap::skills::SchemaOptions original;
  original.field_names = asap::skills::FieldNames::kOriginal;
  bool ok =
      Write(dir, "scalars", *Scalars::descriptor()) &&
      Write(dir, "scalars_original_names", *Scalars::descriptor(), original) &&
      Write(dir, "tree", *Tree::descriptor()) &&
      Write(dir, "well_known", *WellKnown::descriptor()) &&
      Write(dir, "everything", *Everything::descriptor()) &&
      Write(dir, "sum_request", *SumRequest::descriptor());
  return ok ? 0 : 1;
}
