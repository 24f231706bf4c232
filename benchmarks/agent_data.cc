#include "benchmarks/agent_data.h"

#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "asap/json.h"

namespace asap::bench {
namespace {

constexpr const char* kVocabulary[] = {
    "agent",      "protocol",    "latency",    "throughput",  "cluster",
    "research",   "summary",     "language",   "model",       "retrieval",
    "context",    "window",      "token",      "budget",      "schedule",
    "pipeline",   "dataset",     "evaluation", "benchmark",   "regression",
    "baseline",   "variance",    "median",     "sample",      "network",
    "packet",     "stream",      "buffer",     "compression", "ratio",
    "manifest",   "capability",  "skill",      "endpoint",    "envelope",
    "payload",    "correlation", "trace",      "nonce",       "replay",
    "timestamp",  "validation",  "the",        "a",           "of",
    "and",        "to",          "in",         "for",         "with",
    "on",         "by",          "from",       "is",          "was",
    "were",       "has",         "have",       "this",        "that",
    "which",      "their",       "quickly",    "slowly",      "carefully",
    "robust",     "noisy",       "stable",     "new",         "distributed",
    "concurrent", "parallel",    "sequential", "adaptive",    "market",
    "energy",     "climate",     "policy",     "health",      "finance",
    "supply",     "chain",       "logistics",  "inventory",   "forecast",
    "demand",     "price",       "customer",   "report",      "analysis",
    "insight",    "trend",       "growth",     "risk",        "Berlin",
    "Tokyo",      "Nairobi",     "Lima",       "Oslo",        "Chennai",
    "Toronto",    "quarterly",   "annual",     "weekly",      "estimated",
    "observed",   "projected"};
constexpr int kVocabularySize = sizeof(kVocabulary) / sizeof(kVocabulary[0]);

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}
  std::string Words(int min, int max) {
    int n = min + static_cast<int>(rng_() % (max - min + 1));
    std::string out;
    for (int i = 0; i < n; ++i) {
      if (i) out += ' ';
      out += kVocabulary[rng_() % kVocabularySize];
    }
    return out;
  }
  std::string Hex(int n) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < n; ++i) out += kHex[rng_() % 16];
    return out;
  }
  double Number(double scale) { return (rng_() % 1000000) / 1000000.0 * scale; }
  int Int(int max) { return static_cast<int>(rng_() % max); }

 private:
  std::mt19937 rng_;
};

}  // namespace

google::protobuf::Struct AgentData(size_t bytes) {
  Generator g(2026);
  google::protobuf::Struct data;
  auto& fields = *data.mutable_fields();
  fields["query"].set_string_value(g.Words(4, 8));
  fields["generated_by"].set_string_value("urn:asap:agent:research-v1");
  google::protobuf::ListValue* documents =
      fields["documents"].mutable_list_value();
  size_t size = 0;
  while (size < bytes) {
    google::protobuf::Struct* doc =
        documents->add_values()->mutable_struct_value();
    auto& d = *doc->mutable_fields();
    d["id"].set_string_value("doc-" + g.Hex(12));
    d["title"].set_string_value(g.Words(5, 12));
    d["url"].set_string_value("https://example.org/" + g.Hex(8) + "/" +
                              g.Words(1, 1));
    d["score"].set_number_value(g.Number(1.0));
    d["published"].set_string_value(
        absl::StrCat(2000 + g.Int(26), "-", 1 + g.Int(12), "-", 1 + g.Int(28)));
    auto* authors = d["authors"].mutable_list_value();
    for (int i = 0, n = 1 + g.Int(4); i < n; ++i) {
      authors->add_values()->set_string_value(g.Words(2, 2));
    }
    auto* tags = d["tags"].mutable_list_value();
    for (int i = 0, n = g.Int(5); i < n; ++i) {
      tags->add_values()->set_string_value(g.Words(1, 1));
    }
    d["abstract"].set_string_value(g.Words(30, 90));
    auto& metrics = *d["metrics"].mutable_struct_value()->mutable_fields();
    metrics["citations"].set_number_value(g.Int(5000));
    metrics["reads"].set_number_value(g.Int(100000));
    metrics["relevance"].set_number_value(g.Number(100));
    size += 400 + d["abstract"].string_value().size();  // rough; checked below
    if (documents->values_size() % 64 == 0) size = ToJson(data).size();
  }
  return data;
}

}  // namespace asap::bench
