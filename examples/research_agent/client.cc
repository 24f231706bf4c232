// Calls the research agent's two skills with the typed client generated
// from research.proto, once over gRPC and once over the HTTP binding: the
// code is the same, only the target differs. The streaming skill is called
// in both forms: blocking, then many calls at once with SummarizeAsync.
//
//   bazel run //examples/research_agent:client -- GRPC_ADDRESS HTTP_URL
//   (for example 127.0.0.1:50051 http://127.0.0.1:8080)
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asap/json.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"
#include "examples/research_agent/research.asap.h"

namespace {

using research::v1::ResearchAgent;

absl::Status Research(const std::string& target, bool print_manifest) {
  asap::ClientOptions options;
  options.target = target;
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));
  if (print_manifest) {
    ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest manifest, client->GetManifest());
    std::cout << "manifest: " << asap::ToJson(manifest) << "\n";
  }

  asap::TypedStubOptions stub_options;
  stub_options.sender = "urn:asap:agent:research-client";
  ResearchAgent::Client research(client.get(), stub_options);

  research::v1::SearchRequest query;
  query.set_query("ant foraging");
  query.set_max_results(3);
  ASAP_ASSIGN_OR_RETURN(research::v1::SearchResult found,
                        research.Search(query));
  std::cout << target << ": search \"" << query.query()
            << "\": " << found.total() << " papers\n";
  for (const research::v1::Paper& paper : found.papers()) {
    std::cout << "  " << paper.id() << " " << paper.title() << " ("
              << absl::StrJoin(paper.authors(), ", ") << "; "
              << research::v1::Venue_Name(paper.venue()) << ")\n";
  }
  if (found.papers().empty()) return absl::NotFoundError("no papers found");

  // A per-call deadline, and the progress the streaming skill reports.
  research::v1::SummarizeRequest summarize;
  summarize.set_paper_id(found.papers(0).id());
  summarize.set_max_words(40);
  asap::CallOptions call;
  call.deadline = absl::Now() + absl::Seconds(5);
  ASAP_ASSIGN_OR_RETURN(
      research::v1::Summary summary,
      research.Summarize(
          summarize,
          [&target](double percent, absl::string_view message) {
            std::cout << target << ":   progress " << percent << "% " << message
                      << "\n";
          },
          call));
  std::cout << target << ": summary of " << summary.paper_id() << ": "
            << summary.text() << "\n";

  // The callback form: every paper summarized at once, from this thread.
  absl::Mutex mu;
  std::vector<std::string> summaries;
  int updates = 0;
  absl::BlockingCounter pending(found.papers_size());
  for (const research::v1::Paper& paper : found.papers()) {
    research::v1::SummarizeRequest each;
    each.set_paper_id(paper.id());
    each.set_max_words(8);
    research.SummarizeAsync(
        each,
        [&](double, absl::string_view) {
          absl::MutexLock lock(&mu);
          ++updates;
        },
        [&](absl::StatusOr<research::v1::Summary> done) {
          {
            absl::MutexLock lock(&mu);
            summaries.push_back(done.ok() ? done->paper_id()
                                          : done.status().ToString());
          }
          pending.DecrementCount();
        });
  }
  pending.Wait();
  std::sort(summaries.begin(), summaries.end());
  std::cout << target << ": " << summaries.size()
            << " summaries at once (SummarizeAsync, " << updates
            << " progress updates): " << absl::StrJoin(summaries, ", ") << "\n";

  // A bad input comes back as the agent's ASAP error.
  query.set_max_results(500);
  absl::StatusOr<research::v1::SearchResult> refused = research.Search(query);
  std::cout << target << ": max_results 500 -> " << refused.status() << "\n";
  return refused.ok() ? absl::InternalError("expected a refusal")
                      : absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: client GRPC_TARGET [HTTP_URL]\n";
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    absl::Status status = Research(argv[i], /*print_manifest=*/i == 1);
    if (!status.ok()) {
      std::cerr << argv[i] << ": " << status << "\n";
      return 1;
    }
  }
  return 0;
}
