// The main of an example client that runs the same code against each target
// on its command line: an agent's gRPC address (HOST:PORT) and its HTTP
// binding (http://HOST:PORT).
//
//   absl::Status Exchange(const std::string& target) { ... }
//
//   int main(int argc, char** argv) {
//     return asap::examples::RunOnTargets(argc, argv, Exchange);
//   }
#ifndef ASAP_EXAMPLES_COMMON_RUN_ON_TARGETS_H_
#define ASAP_EXAMPLES_COMMON_RUN_ON_TARGETS_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace asap::examples {

// Calls `exchange` with argv[1], argv[2], ... in turn, and returns main's
// exit code: 0 when every call returned OK; 1 at the first error, after
// printing "TARGET: STATUS" to stderr (the later targets are not tried); 2,
// after a usage message on stderr, when there is no target.
int RunOnTargets(
    int argc, char** argv,
    absl::FunctionRef<absl::Status(const std::string& target)> exchange);

}  // namespace asap::examples

#endif  // ASAP_EXAMPLES_COMMON_RUN_ON_TARGETS_H_
