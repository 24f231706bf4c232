// Default options and suppressions of the sanitizer runtimes. The runtimes call
// these functions (weak in the runtime, strong here) before reading
// ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS and TSAN_OPTIONS, so the
// environment still overrides any option set here.

extern "C" {

// halt_on_error: the first report fails the test instead of scrolling past.
// Initialization-order checks catch globals that read other files' globals.
const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:check_initialization_order=1:"
         "strict_init_order=1:print_summary=1"
#if defined(__clang__)
         // clang's runtime (the fuzz config) symbolizes with llvm-symbolizer,
         // which Debian installs under a versioned name only.
         ":external_symbolizer_path=/usr/lib/llvm-14/bin/llvm-symbolizer"
#endif
      ;
}

const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1"
#if defined(__clang__)
         ":external_symbolizer_path=/usr/lib/llvm-14/bin/llvm-symbolizer"
#endif
      ;
}

const char* __lsan_default_suppressions() {
  return
#include "tools/sanitizers/lsan_supp.inc"
      ;
}

// second_deadlock_stack: a lock-order report shows where both locks were
// taken, not only one of them. history_size=4 (of 7) keeps enough history to
// restore the earlier access's stack in gRPC-heavy tests, which a suppression
// needs to match.
const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:history_size=4";
}

const char* __tsan_default_suppressions() {
  return
#include "tools/sanitizers/tsan_supp.inc"
      ;
}

}  // extern "C"
