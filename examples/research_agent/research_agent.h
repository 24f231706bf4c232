// The research agent: searches a small library of papers and summarises
// them. It derives from the Service class protoc-gen-asap generated from
// research.proto, so each skill is a typed method; the library is built in.
#ifndef EXAMPLES_RESEARCH_AGENT_RESEARCH_AGENT_H_
#define EXAMPLES_RESEARCH_AGENT_RESEARCH_AGENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "examples/research_agent/research.asap.h"

namespace research {

struct LibraryPaper {
  v1::Paper paper;
  int year = 0;
  std::string abstract;
};

class Researcher final : public v1::ResearchAgent::Service {
 public:
  Researcher();

  // Every word of the query must appear in the title or abstract (case
  // folded); papers with more occurrences come first. Bad bounds are
  // asap:protocol/malformed_envelope naming the field.
  absl::StatusOr<v1::SearchResult> Search(
      const asap::HandlerContext& context,
      const v1::SearchRequest& request) override;

  // Keeps the abstract's sentences with the most frequent content words,
  // in their order, within max_words; reports progress after scoring each
  // sentence, and stops when the caller has gone.
  absl::StatusOr<v1::Summary> Summarize(
      const asap::HandlerContext& context, const v1::SummarizeRequest& request,
      const asap::skills::ProgressEmit& progress) override;

 private:
  std::vector<LibraryPaper> library_;
};

}  // namespace research

#endif  // EXAMPLES_RESEARCH_AGENT_RESEARCH_AGENT_H_
