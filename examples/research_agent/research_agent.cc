#include "examples/research_agent/research_agent.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asap/errors.h"

namespace research {
namespace {

constexpr int kDefaultResults = 10;
constexpr int kMaxResults = 50;
constexpr int kDefaultWords = 60;
constexpr int kMaxWords = 1000;
constexpr size_t kMaxQueryBytes = 1024;

struct Entry {
  const char* id;
  const char* title;
  std::vector<const char*> authors;
  int year;
  v1::Venue venue;
  const char* abstract;
};

const std::vector<Entry>& Entries() {
  static const auto* entries = new std::vector<Entry>{
      {"p-0001",
       "Ant colony optimization for routing in sensor networks",
       {"A. Moreau", "K. Tanaka"},
       2019,
       v1::VENUE_JOURNAL,
       "Routing in sensor networks must balance energy and delay. We adapt "
       "ant colony optimization so that pheromone trails follow residual "
       "energy. Simulated networks of 500 nodes live 31% longer than with "
       "shortest-path routing. The method needs no global state, and each "
       "node keeps a table of its neighbours only."},
      {"p-0002",
       "Pheromone-free foraging in robot swarms",
       {"L. Okafor", "M. Lindqvist", "R. Costa"},
       2021,
       v1::VENUE_CONFERENCE,
       "Robot swarms often copy ant foraging through virtual pheromones. We "
       "show that local visual cues suffice. Forty robots foraged as fast as "
       "with pheromones in three arenas. Without pheromones the swarm "
       "needs no shared map and recovers at once when robots fail."},
      {"p-0003",
       "Tail latency in replicated key-value stores",
       {"S. Iyer", "J. Novak"},
       2020,
       v1::VENUE_CONFERENCE,
       "Replicated stores answer most reads quickly, but the slowest reads "
       "decide user experience. We measure tail latency in three stores "
       "under mixed load. Hedged reads cut the 99.9th percentile by half at "
       "a cost of 4% more requests. Queueing at the busiest replica explains "
       "most of the remaining tail."},
      {"p-0004",
       "Backpressure for streaming RPC",
       {"D. Reyes"},
       2022,
       v1::VENUE_PREPRINT,
       "Streaming RPC frameworks buffer messages a slow consumer has not "
       "read. Unbounded buffers exhaust memory under load. We add credit "
       "based flow control to the stream and bound every buffer. Throughput "
       "stays within 3% of the unbounded design while memory stays flat."},
      {"p-0005",
       "Idempotent retries across replicas",
       {"H. Brandt", "Y. Chen"},
       2023,
       v1::VENUE_JOURNAL,
       "Clients retry requests whose replica died, and a request may then "
       "run twice. We store each request's result under its id in a shared "
       "store with short leases. A retry finds the stored result or waits "
       "for the running attempt. Under chaos testing no request ran twice "
       "and latency rose by 2%."},
      {"p-0006",
       "Learning ant foraging trails from video",
       {"P. Adeyemi", "K. Tanaka"},
       2023,
       v1::VENUE_PREPRINT,
       "Ant trails emerge from pheromone deposits that are hard to observe. "
       "We infer trail strength from video of foraging ants. A small "
       "network predicts path choice with 87% accuracy. The inferred trails "
       "match chemical measurements in two colonies."},
      {"p-0007",
       "Compression of JSON messages in agent protocols",
       {"E. Haddad"},
       2024,
       v1::VENUE_CONFERENCE,
       "Agent protocols exchange verbose JSON. We compare gzip and brotli on "
       "recorded agent traffic. Brotli saves 18% more bytes than gzip at "
       "similar speed for messages above one kilobyte. Small messages should "
       "not be compressed at all."},
      {"p-0008",
       "Token bucket rate limiting at scale",
       {"M. Lindqvist", "S. Iyer"},
       2022,
       v1::VENUE_JOURNAL,
       "Rate limiters protect services from overload and abuse. We shard "
       "token buckets across replicas and reconcile them lazily. Limits "
       "hold within 5% of their target with no coordination on the request "
       "path. Bursts above the limit are refused with a retry hint."},
  };
  return *entries;
}

std::vector<std::string> Words(absl::string_view text) {
  std::vector<std::string> words;
  for (absl::string_view word :
       absl::StrSplit(text, absl::ByAnyChar(" ,.;:()-\n"), absl::SkipEmpty())) {
    words.push_back(absl::AsciiStrToLower(word));
  }
  return words;
}

std::vector<std::string> Sentences(absl::string_view text) {
  std::vector<std::string> sentences;
  for (absl::string_view sentence :
       absl::StrSplit(text, ". ", absl::SkipWhitespace())) {
    sentence = absl::StripAsciiWhitespace(sentence);
    sentence = absl::StripSuffix(sentence, ".");
    sentences.push_back(absl::StrCat(sentence, "."));
  }
  return sentences;
}

bool IsStopWord(absl::string_view word) {
  static const auto* stop = new absl::flat_hash_set<std::string>{
      "a",    "an",  "and", "the", "of",   "in",  "to",  "we",   "with",
      "at",   "for", "is",  "are", "that", "its", "by",  "on",   "as",
      "than", "no",  "not", "it",  "be",   "or",  "but", "more", "most"};
  return word.size() < 3 || stop->contains(word);
}

absl::Status BadInput(absl::string_view field, absl::string_view why) {
  return asap::AsapError(asap::ErrorCode::kMalformedEnvelope,
                         absl::StrCat("input.", field, ": ", why));
}

}  // namespace

Researcher::Researcher() {
  for (const Entry& entry : Entries()) {
    LibraryPaper paper;
    paper.paper.set_id(entry.id);
    paper.paper.set_title(entry.title);
    for (const char* author : entry.authors) paper.paper.add_authors(author);
    // 1 January of the year, 00:00 UTC.
    int64_t days = 0;
    for (int year = 1970; year < entry.year; ++year) {
      bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
      days += leap ? 366 : 365;
    }
    paper.paper.mutable_published()->set_seconds(days * 86400);
    paper.paper.set_venue(entry.venue);
    paper.year = entry.year;
    paper.abstract = entry.abstract;
    library_.push_back(std::move(paper));
  }
}

absl::StatusOr<v1::SearchResult> Researcher::Search(
    const asap::HandlerContext&, const v1::SearchRequest& request) {
  if (request.query().size() > kMaxQueryBytes) {
    return BadInput("query",
                    absl::StrCat("longer than ", kMaxQueryBytes, " bytes"));
  }
  std::vector<std::string> query = Words(request.query());
  if (query.empty()) return BadInput("query", "no words to search for");
  int max_results =
      request.max_results() == 0 ? kDefaultResults : request.max_results();
  if (max_results < 1 || max_results > kMaxResults) {
    return BadInput("maxResults", absl::StrCat("must be 1-", kMaxResults,
                                               " (0: ", kDefaultResults, ")"));
  }
  absl::flat_hash_set<int> years(request.years().begin(),
                                 request.years().end());

  std::vector<v1::Paper> found;
  for (const LibraryPaper& entry : library_) {
    if (!years.empty() && !years.contains(entry.year)) continue;
    absl::flat_hash_map<std::string, int> counts;
    for (std::string& word :
         Words(absl::StrCat(entry.paper.title(), " ", entry.abstract))) {
      ++counts[word];
    }
    int matches = 0;
    bool all = true;
    for (const std::string& word : query) {
      auto it = counts.find(word);
      if (it == counts.end()) {
        all = false;
        break;
      }
      matches += it->second;
    }
    if (!all) continue;
    v1::Paper paper = entry.paper;
    paper.set_matches(matches);
    found.push_back(std::move(paper));
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const v1::Paper& a, const v1::Paper& b) {
                     return a.matches() > b.matches();
                   });
  v1::SearchResult result;
  result.set_total(static_cast<int>(found.size()));
  for (size_t i = 0; i < found.size() && i < static_cast<size_t>(max_results);
       ++i) {
    *result.add_papers() = std::move(found[i]);
  }
  return result;
}

absl::StatusOr<v1::Summary> Researcher::Summarize(
    const asap::HandlerContext&, const v1::SummarizeRequest& request,
    const asap::skills::ProgressEmit& progress) {
  const LibraryPaper* paper = nullptr;
  for (const LibraryPaper& entry : library_) {
    if (entry.paper.id() == request.paper_id()) paper = &entry;
  }
  if (paper == nullptr) {
    return BadInput(
        "paperId", absl::StrCat("no paper \"", request.paper_id().substr(0, 64),
                                "\" in the library"));
  }
  int max_words =
      request.max_words() == 0 ? kDefaultWords : request.max_words();
  if (max_words < 1 || max_words > kMaxWords) {
    return BadInput("maxWords", absl::StrCat("must be 1-", kMaxWords));
  }

  std::vector<std::string> sentences = Sentences(paper->abstract);
  absl::flat_hash_map<std::string, int> frequency;
  for (const std::string& word : Words(paper->abstract)) {
    if (!IsStopWord(word)) ++frequency[word];
  }
  std::vector<std::pair<double, int>> scored;
  for (size_t i = 0; i < sentences.size(); ++i) {
    std::vector<std::string> words = Words(sentences[i]);
    double score = 0;
    for (const std::string& word : words) {
      if (!IsStopWord(word)) score += frequency[word];
    }
    scored.emplace_back(words.empty() ? 0 : score / words.size(),
                        static_cast<int>(i));
    double percent = 100.0 * (i + 1) / sentences.size();
    if (!progress(percent, absl::StrCat("scored sentence ", i + 1, " of ",
                                        sentences.size()))) {
      return asap::AsapError(asap::ErrorCode::kCancelled,
                             "the caller went away");
    }
  }
  std::stable_sort(
      scored.begin(), scored.end(),
      [](const auto& a, const auto& b) { return a.first > b.first; });

  std::vector<int> kept;
  int words = 0;
  for (const auto& [score, index] : scored) {
    int length = static_cast<int>(Words(sentences[index]).size());
    if (words + length > max_words) continue;
    words += length;
    kept.push_back(index);
  }
  std::sort(kept.begin(), kept.end());
  v1::Summary summary;
  summary.set_paper_id(paper->paper.id());
  std::vector<std::string> parts;
  for (int index : kept) {
    summary.add_sentences(index);
    parts.push_back(sentences[index]);
  }
  summary.set_text(absl::StrJoin(parts, " "));
  return summary;
}

}  // namespace research
