// Writes the fuzz targets' seed corpora (corpus/<target>/) from the envelope
// fixtures in tests/testdata, so the seeds stay real ASAP envelopes in every
// encoding a target reads:
//
//   bazel run //tests/fuzz:make_seed_corpus -- "$PWD/tests/fuzz/corpus"
//
// Existing files of the same name are overwritten; others (inputs added by
// hand, crash reproducers) are kept.

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "asap/compression/codec.h"
#include "asap/json.h"
#include "asap/v1/envelope.pb.h"
#include "asap/v1/service.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"

namespace {

constexpr char kFixtures[] = "tests/testdata";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

bool WriteFile(const std::string& dir, const std::string& name,
               const std::string& data) {
  mkdir(dir.c_str(), 0755);
  std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out.good()) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return false;
  }
  std::printf("%s (%zu bytes)\n", path.c_str(), data.size());
  return true;
}

std::vector<std::string> FixtureNames() {
  std::vector<std::string> names;
  if (DIR* dir = opendir(kFixtures)) {
    while (struct dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (absl::EndsWith(name, ".json")) names.push_back(name);
    }
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Protobuf writes map entries (Struct fields) in hash order unless asked not
// to; deterministic bytes keep regenerated seeds unchanged.
std::string Serialize(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }  // the streams flush into `out` when they go
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seed_corpus OUTPUT_DIR\n");
    return 2;
  }
  const std::string out = argv[1];
  mkdir(out.c_str(), 0755);
  const asap::CompressionCodec* gzip = *asap::FindCodec("gzip");
  const asap::CompressionCodec* brotli = *asap::FindCodec("br");
  bool ok = true;
  asap::v1::BatchFrame all;

  for (const std::string& name : FixtureNames()) {
    std::string json = ReadFile(absl::StrCat(kFixtures, "/", name));
    std::string stem(absl::StripSuffix(name, ".json"));
    absl::StatusOr<asap::v1::Envelope> envelope = asap::EnvelopeFromJson(json);
    if (!envelope.ok() || stem == "task_request") {
      // One envelope and the manifest are enough bodies for the codecs.
      ok &= WriteFile(out + "/gzip_fuzz", name + ".gz", *gzip->Compress(json));
      ok &= WriteFile(out + "/brotli_fuzz", name + ".br",
                      *brotli->Compress(json));
    }
    if (!envelope.ok()) continue;  // the manifest
    std::string binary = Serialize(*envelope);
    ok &= WriteFile(out + "/envelope_json_fuzz", name, json);
    ok &= WriteFile(out + "/envelope_binary_fuzz", stem + ".bin", binary);
    ok &= WriteFile(out + "/wire_limits_fuzz", stem + ".bin", binary);
    ok &= WriteFile(out + "/parsers_fuzz", "timestamp_" + stem,
                    envelope->timestamp());
    if (all.envelopes_size() == 0) {
      asap::v1::BatchFrame one;
      *one.add_envelopes() = *envelope;
      ok &= WriteFile(out + "/batch_frame_fuzz", "one.bin", Serialize(one));
    }
    *all.add_envelopes() = *envelope;
  }
  std::string frame = Serialize(all);
  ok &= WriteFile(out + "/batch_frame_fuzz", "frame.bin", frame);
  asap::v1::BatchFrame compressed;
  compressed.set_encoding("gzip");
  compressed.set_body(*gzip->Compress(frame));
  ok &= WriteFile(out + "/batch_frame_fuzz", "frame_gzip.bin",
                  Serialize(compressed));
  ok &= WriteFile(out + "/gzip_fuzz", "empty.gz", *gzip->Compress(""));
  ok &= WriteFile(out + "/brotli_fuzz", "empty.br", *brotli->Compress(""));
  return ok ? 0 : 1;
}
