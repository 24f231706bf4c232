// A realistic JSON payload for the benchmarks: a research agent's result
// set (documents with ids, titles, urls, authors, scores, dates, tags,
// abstracts and nested metrics), generated from a fixed seed so every run
// and every benchmark sends the same bytes.
#ifndef ASAP_BENCHMARKS_AGENT_DATA_H_
#define ASAP_BENCHMARKS_AGENT_DATA_H_

#include <cstddef>

#include "google/protobuf/struct.pb.h"

namespace asap::bench {

// Documents are added until the JSON form reaches `bytes` (1 << 20 for the
// "1 MB JSON payload").
google::protobuf::Struct AgentData(size_t bytes);

}  // namespace asap::bench

#endif  // ASAP_BENCHMARKS_AGENT_DATA_H_
