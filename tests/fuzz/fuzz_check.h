// FUZZ_CHECK: a property a fuzz target asserts about the code under test.
// A violation prints what failed and aborts, which libFuzzer (and the corpus
// replay) reports as a crash with the input that caused it.
#ifndef ASAP_TESTS_FUZZ_FUZZ_CHECK_H_
#define ASAP_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, ...)                                     \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, \
                   __LINE__, #condition);                              \
      std::fprintf(stderr, __VA_ARGS__);                               \
      std::fprintf(stderr, "\n");                                      \
      std::abort();                                                    \
    }                                                                  \
  } while (false)

#endif  // ASAP_TESTS_FUZZ_FUZZ_CHECK_H_
