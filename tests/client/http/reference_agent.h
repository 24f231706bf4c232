// The Python reference-shaped agent (reference_agent.py) as a child process
// of a test: an ASAP agent that is not asap, answering exactly as the HTTP
// binding describes (v1.0 shapes and errors, HTTP/1.1 only, no response
// compression), with test controls for faults and counters.
//
//   std::unique_ptr<ReferenceAgent> agent = ReferenceAgent::Start();
//   options.target = agent->url();                 // "http://127.0.0.1:PORT"
//   agent->Fault(R"({"status": 503, "count": 2})");  // the next two answers
//   EXPECT_EQ(agent->Stat("asap_requests"), 3);
#ifndef ASAP_TESTS_CLIENT_HTTP_REFERENCE_AGENT_H_
#define ASAP_TESTS_CLIENT_HTTP_REFERENCE_AGENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "benchmarks/server_process.h"

namespace asap::testing {

class ReferenceAgent {
 public:
  // Starts the agent with extra command-line `args`; null, with a test
  // failure recorded, when it does not start.
  static std::unique_ptr<ReferenceAgent> Start(
      const std::vector<std::string>& args = {});

  const std::string& url() const { return url_; }
  bench::ServerProcess& process() { return *process_; }

  // POST /_test/fault with `json`; a test failure when it is refused.
  void Fault(absl::string_view json);
  // A counter of GET /_test/stats ("connections", "asap_requests",
  // "manifest_200", "manifest_304", "max_concurrent"); -1 when unreadable.
  int64_t Stat(absl::string_view name);
  // A request header of the last POST /asap ("" when absent).
  std::string LastHeader(absl::string_view lower_case_name);
  // POST /_test/reset_stats.
  void ResetStats();

 private:
  // A request to a control route: the answer's body, or an error.
  absl::StatusOr<std::string> Control(absl::string_view method,
                                      absl::string_view path,
                                      absl::string_view body);

  std::unique_ptr<bench::ServerProcess> process_;
  std::string url_;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_CLIENT_HTTP_REFERENCE_AGENT_H_
