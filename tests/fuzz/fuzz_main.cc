// The driver half of every asap fuzz target (tests/fuzz/fuzz.bzl), built in
// one of two ways:
//
// - With libFuzzer (--config=fuzz, ASAP_FUZZ_LIBFUZZER): libFuzzer owns
//   main(); LLVMFuzzerInitialize, which libFuzzer calls before it reads its
//   flags, adds what `bazel run` and `bazel test` cannot pass themselves: the
//   target's seed corpus (from --asap_seed_corpus=DIR, which the BUILD rule
//   passes), a writable directory for the inputs it discovers, and where to
//   write crashing inputs (the directory `bazel run` was started from, or the
//   test's undeclared outputs).
//
// - Without (every other config): a main() that runs each seed corpus file
//   through LLVMFuzzerTestOneInput once, so `bazel test //...` replays the
//   corpus as regression tests, and under --config=asan with gcc's
//   sanitizers. Files or directories given on the command line are replayed
//   instead, so a crashing input can be reproduced without libFuzzer:
//     bazel run --config=asan //tests/fuzz:gzip_fuzz -- /path/to/crash-1234
//
// In both, other flags (-max_total_time=60, ...) go to libFuzzer, and the
// replay main ignores them.

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr char kSeedCorpusFlag[] = "--asap_seed_corpus=";

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// The seed corpus path is relative to the runfiles root, which is the working
// directory under `bazel run` and `bazel test`; a binary started by hand finds
// it next to itself.
std::string ResolveSeedCorpus(const std::string& relative, const char* argv0) {
  if (relative.empty() || Exists(relative)) return relative;
  std::string beside = std::string(argv0) + ".runfiles/asap/" + relative;
  return Exists(beside) ? beside : relative;
}

// Splits off --asap_seed_corpus=DIR; returns the other arguments (argv[0]
// first) and stores DIR in `seed_corpus`.
std::vector<std::string> TakeSeedCorpusFlag(int argc, char** argv,
                                            std::string* seed_corpus) {
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], kSeedCorpusFlag,
                              sizeof(kSeedCorpusFlag) - 1) == 0) {
      *seed_corpus = argv[i] + sizeof(kSeedCorpusFlag) - 1;
    } else {
      args.push_back(argv[i]);
    }
  }
  *seed_corpus = ResolveSeedCorpus(*seed_corpus, argv[0]);
  return args;
}

bool HasInputArgument(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (!args[i].empty() && args[i][0] != '-') return true;
  }
  return false;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

#if defined(ASAP_FUZZ_LIBFUZZER)

namespace {

bool HasFlag(const std::vector<std::string>& args, const char* name) {
  std::string prefix = std::string("-") + name + "=";
  for (const std::string& arg : args) {
    if (arg.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

void MakeDirectories(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    mkdir(path.substr(0, slash).c_str(), 0755);
  }
  mkdir(path.c_str(), 0755);
}

// `bazel run` runs a test target through the test runner too, so
// BUILD_WORKING_DIRECTORY (set by `bazel run` only) tells the two apart.
bool UnderBazelRun() {
  return std::getenv("BUILD_WORKING_DIRECTORY") != nullptr;
}

// Where libFuzzer writes the inputs it discovers: the seed corpus is in the
// read-only source tree. Under `bazel run` the directory is kept across runs,
// so a session can go on where the last one stopped; a test's is its own.
std::string OutputCorpus(const std::string& name) {
  const char* test_tmp = std::getenv("TEST_TMPDIR");
  if (test_tmp != nullptr && !UnderBazelRun()) {
    return std::string(test_tmp) + "/corpus";
  }
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr ? tmp : "/tmp") + "/asap_fuzz/" + name;
}

// Where libFuzzer writes crash-*, leak-*, timeout-* inputs: the directory
// `bazel run` was started from, or the test's undeclared outputs (kept in
// bazel-testlogs/.../test.outputs).
const char* ArtifactDirectory() {
  if (UnderBazelRun()) return std::getenv("BUILD_WORKING_DIRECTORY");
  return std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  std::string seed_corpus;
  // The arguments must outlive libFuzzer, which keeps pointers into them.
  static std::vector<std::string>* args = new std::vector<std::string>(
      TakeSeedCorpusFlag(*argc, *argv, &seed_corpus));
  const char* artifacts = ArtifactDirectory();
  if (artifacts != nullptr && !HasFlag(*args, "artifact_prefix")) {
    args->push_back(std::string("-artifact_prefix=") + artifacts + "/");
  }
  if (!HasInputArgument(*args) && !seed_corpus.empty()) {
    std::string output = OutputCorpus(BaseName((*args)[0]));
    MakeDirectories(output);
    std::fprintf(stderr, "asap fuzz: new inputs go to %s\n", output.c_str());
    args->push_back(output);  // libFuzzer writes to the first directory
    args->push_back(seed_corpus);
  }
  static std::vector<char*>* pointers = new std::vector<char*>();
  for (std::string& arg : *args) pointers->push_back(&arg[0]);
  pointers->push_back(nullptr);
  *argc = static_cast<int>(args->size());
  *argv = pointers->data();
  return 0;
}

#else  // !defined(ASAP_FUZZ_LIBFUZZER)

namespace {

// Appends `path`, or the files in it when it is a directory (sorted, so runs
// are repeatable), to `files`.
bool CollectInputs(const std::string& path, std::vector<std::string>* files) {
  if (!IsDirectory(path)) {
    if (!Exists(path)) {
      std::fprintf(stderr, "asap fuzz: %s: %s\n", path.c_str(),
                   std::strerror(errno));
      return false;
    }
    files->push_back(path);
    return true;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return false;
  std::vector<std::string> entries;
  while (struct dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    entries.push_back(path + "/" + name);
  }
  closedir(dir);
  std::sort(entries.begin(), entries.end());
  for (const std::string& entry : entries) {
    if (!CollectInputs(entry, files)) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string seed_corpus;
  std::vector<std::string> args = TakeSeedCorpusFlag(argc, argv, &seed_corpus);
  std::vector<std::string> files;
  bool ok = true;
  if (HasInputArgument(args)) {
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i][0] != '-') ok = CollectInputs(args[i], &files) && ok;
    }
  } else if (!seed_corpus.empty()) {
    ok = CollectInputs(seed_corpus, &files);
  }
  if (!ok) return 1;
  if (files.empty()) {
    // A fuzz target whose corpus went missing would otherwise pass silently.
    std::fprintf(stderr, "asap fuzz: no inputs (seed corpus '%s')\n",
                 seed_corpus.c_str());
    return 1;
  }
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "asap fuzz: cannot read %s\n", file.c_str());
      return 1;
    }
    std::fprintf(stderr, "asap fuzz: %s (%zu bytes)\n", file.c_str(),
                 data.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }
  std::fprintf(stderr, "asap fuzz: %zu inputs ran without a crash\n",
               files.size());
  return 0;
}

#endif  // defined(ASAP_FUZZ_LIBFUZZER)
