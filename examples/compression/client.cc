// Compression, measured: one 64 KiB text sent to the echo skill with brotli,
// then gzip, then none, over gRPC and over the HTTP binding, with what each
// saved on the wire (AsapClient::compression_stats(): bytes before and after
// compression, both ways).
//
// Over gRPC a body is compressed only once the agent has advertised what it
// decodes (the first answer tells), so each client makes a small call
// first. Over HTTP every ASAP server decodes br and gzip, and
// Content-Encoding says which. docs/COMPRESSION.md has the details.
//
//   bazel run //examples/compression:client --
//       127.0.0.1:50051 http://127.0.0.1:8080
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "asap/status_macros.h"
#include "client/asap_client.h"
#include "client/compression_options.h"
#include "examples/common/echo_task.h"
#include "examples/common/run_on_targets.h"

namespace {

constexpr size_t kTextBytes = 64 * 1024;

// Text that compresses the way prose does: words from a small vocabulary in
// a varying order (a fixed seed, so every run sends the same bytes).
std::string Prose(size_t bytes) {
  static constexpr const char* kWords[] = {
      "agent", "task",   "manifest", "envelope", "skill", "result",
      "the",   "sends",  "answers",  "with",     "a",     "progress",
      "echo",  "stream", "batch",    "of",       "and",   "compressed"};
  std::string text;
  uint32_t state = 12345;
  while (text.size() < bytes) {
    state = state * 1103515245 + 12345;  // a plain LCG is enough here
    text += kWords[(state >> 16) % (sizeof(kWords) / sizeof(kWords[0]))];
    text += (state >> 8) % 11 == 0 ? ". " : " ";
  }
  text.resize(bytes);
  return text;
}

std::string Bytes(uint64_t raw, uint64_t wire) {
  if (raw == 0) return "not compressed";
  return absl::StrFormat("%6d -> %6d bytes (%2.0f%% smaller)", raw, wire,
                         100.0 * (1.0 - static_cast<double>(wire) / raw));
}

// One client with `algorithm`; one large Send; its compression counters.
absl::Status SendWith(const std::string& binding, const std::string& target,
                      asap::Compression algorithm) {
  asap::ClientOptions options;
  options.target = target;
  options.timeout = absl::Seconds(10);
  options.compression.algorithm = algorithm;
  // Answers in the same encoding (empty for none: identity only).
  options.compression.accept_encoding.clear();
  if (algorithm != asap::Compression::kNone) {
    options.compression.accept_encoding.push_back(algorithm);
  }
  ASAP_ASSIGN_OR_RETURN(std::unique_ptr<asap::AsapClient> client,
                        asap::AsapClient::Create(options));
  ASAP_ASSIGN_OR_RETURN(asap::v1::Manifest manifest, client->GetManifest());
  const asap::examples::EchoTaskOptions echo = {
      .sender = "urn:asap:agent:compression-example",
      .recipient = manifest.id(),
      .conversation_id = "compression-1"};
  // A first, small call: over gRPC its answer tells the client which
  // encodings the agent decodes (large bodies go plain until then).
  ASAP_RETURN_IF_ERROR(
      client->Send(asap::examples::EchoTaskRequest("hello", echo)).status());
  const std::string text = Prose(kTextBytes);
  ASAP_ASSIGN_OR_RETURN(
      asap::v1::Envelope response,
      client->Send(asap::examples::EchoTaskRequest(text, echo)));
  if (asap::examples::EchoResultText(response) != text) {
    return absl::DataLossError("the echo differs from the text sent");
  }
  asap::AsapClient::CompressionStats stats = client->compression_stats();
  std::cout << absl::StrFormat(
      "%-4s %-4s  request %s; response %s\n", binding,
      algorithm == asap::Compression::kNone
          ? "none"
          : std::string(asap::CompressionName(algorithm)),
      Bytes(stats.request_bytes_raw, stats.request_bytes_sent),
      Bytes(stats.response_bytes_raw, stats.response_bytes_received));
  return absl::OkStatus();
}

// The three algorithms in turn against one target, over the binding its
// scheme names.
absl::Status SendEach(const std::string& target) {
  const std::string binding =
      absl::StartsWith(target, "http") ? "HTTP" : "gRPC";
  for (asap::Compression algorithm :
       {asap::Compression::kBrotli, asap::Compression::kGzip,
        asap::Compression::kNone}) {
    ASAP_RETURN_IF_ERROR(SendWith(binding, target, algorithm));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << "one " << kTextBytes / 1024
            << " KiB text to the echo skill and back:\n";
  return asap::examples::RunOnTargets(argc, argv, SendEach);
}
