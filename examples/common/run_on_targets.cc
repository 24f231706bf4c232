#include "examples/common/run_on_targets.h"

#include <iostream>

namespace asap::examples {

int RunOnTargets(
    int argc, char** argv,
    absl::FunctionRef<absl::Status(const std::string& target)> exchange) {
  if (argc < 2) {
    std::cerr << "usage: client TARGET...  (HOST:PORT for gRPC, "
                 "http://HOST:PORT for the HTTP binding)\n";
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    if (absl::Status status = exchange(argv[i]); !status.ok()) {
      std::cerr << argv[i] << ": " << status << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace asap::examples
