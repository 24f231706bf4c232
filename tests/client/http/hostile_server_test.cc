// AsapClient over the HTTP binding against a hostile server
// (hostile_server.py): every value from the network is hostile until checked.
// Each attack must end in an absl::Status with the right ASAP code, within
// the call's deadline (the bounds below are "did not hang", never
// performance thresholds), without crashing and with bounded memory.
//
// The server is one child process for the whole suite; the first segment of
// the target's path picks its misbehaviour (http://127.0.0.1:PORT/MODE).
#include <curl/curl.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asap/errors.h"
#include "benchmarks/server_process.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"

// Defined by ThreadSanitizer's runtime only. (The tsan config undefines
// __SANITIZE_THREAD__ for the sake of Debian's libraries.)
extern "C" void __tsan_init() __attribute__((weak));

namespace asap {
namespace {

using ::asap::bench::ServerProcess;

// Attacks that must end at the call's deadline run with this timeout ...
constexpr absl::Duration kShortTimeout = absl::Seconds(2);
// ... and attacks that must fail at once with a long one, so that finishing
// well before it shows the client did not wait for it.
constexpr absl::Duration kLongTimeout = absl::Seconds(20);
// "At once": far below kLongTimeout, and generous for sanitizer builds.
constexpr absl::Duration kPromptly = absl::Seconds(8);
// The client's message limit in these tests.
constexpr int kMaxMessageBytes = 1 << 20;
// Peak memory growth allowed during one attack (for a 1 MiB limit); see
// MaxPeakGrowthBytes().
constexpr int64_t kMaxPeakGrowthBytes = int64_t{64} << 20;
constexpr int kMaxRetries = 2;

// VmHWM of this process, in bytes (-1 when unreadable).
int64_t PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmHWM:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    int64_t kb = 0;
    if (absl::SimpleAtoi(rest, &kb)) return kb * 1024;
  }
  return -1;
}

// kMaxPeakGrowthBytes, times 4 under ThreadSanitizer, whose shadow memory
// alone is several times the memory it shadows (a 1 MiB answer that costs
// 20 MiB parsed costs 95 MiB there).
int64_t MaxPeakGrowthBytes() {
  return &__tsan_init != nullptr ? 4 * kMaxPeakGrowthBytes
                                 : kMaxPeakGrowthBytes;
}

// Lowers VmHWM to the current resident set (Linux >= 4.0), so that the next
// reading is the peak of what follows.
void ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// A small task.request, as the echo client sends.
v1::Envelope Request(size_t text_bytes = 5) {
  v1::Envelope envelope;
  envelope.set_sender("urn:asap:agent:echo-client");
  envelope.set_recipient("urn:asap:agent:hostile");
  envelope.set_payload_type("task.request");
  auto& fields = *envelope.mutable_payload()->mutable_fields();
  fields["conversation_id"].set_string_value("conv-1");
  fields["skill_id"].set_string_value("echo");
  std::string text(text_bytes, 'a');
  // Incompressible-ish text, so a large body stays large on the wire.
  uint32_t x = 12345;
  for (char& c : text) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>('a' + (x >> 16) % 26);
  }
  (*fields["input"].mutable_struct_value()->mutable_fields())["text"]
      .set_string_value(text);
  return envelope;
}

// What one attack did.
struct Outcome {
  absl::Status status;
  absl::Duration elapsed;         // the call
  absl::Duration teardown;        // destroying the client afterwards
  int64_t peak_growth_bytes = 0;  // VmHWM growth during call and teardown
  std::vector<v1::Envelope> intermediates;  // SendStream only
};

class HostileServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<ServerProcess>> process =
        ServerProcess::Start(
            "/usr/bin/python3",
            {testing::Runfile("tests/client/http/hostile_server.py"), "--port",
             "0"});
    ASSERT_TRUE(process.ok()) << process.status();
    server_ = process->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      // It must have survived every attack (no client crashed it either).
      EXPECT_TRUE(server_->Running());
      delete server_;
      server_ = nullptr;
    }
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static ClientOptions Options(absl::string_view mode, absl::Duration timeout) {
    ClientOptions options;
    options.target = absl::StrCat("http://", server_->address(), "/", mode);
    options.timeout = timeout;
    options.max_message_bytes = kMaxMessageBytes;
    // Most attacks skip the HTTP/2 question (AutoProbe... asks it).
    options.http.protocol = HttpProtocol::kHttp1;
    options.http.retry.max_retries = kMaxRetries;
    options.http.retry.initial_backoff = absl::Milliseconds(10);
    options.http.retry.max_backoff = absl::Milliseconds(50);
    options.pool.pool_timeout = absl::Seconds(1);
    return options;
  }

  // Creates a client with `options`, runs `call` on it, destroys it; times
  // the call and the teardown and measures peak memory growth.
  static Outcome Attack(
      const ClientOptions& options,
      const std::function<absl::Status(AsapClient&, Outcome&)>& call) {
    Outcome outcome;
    absl::StatusOr<std::unique_ptr<AsapClient>> client =
        AsapClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) {
      outcome.status = client.status();
      return outcome;
    }
    ResetPeakRss();
    const int64_t before = PeakRssBytes();
    const absl::Time start = absl::Now();
    outcome.status = call(**client, outcome);
    const absl::Time returned = absl::Now();
    client->reset();
    outcome.elapsed = returned - start;
    outcome.teardown = absl::Now() - returned;
    outcome.peak_growth_bytes = PeakRssBytes() - before;
    return outcome;
  }

  static Outcome Send(const ClientOptions& options,
                      v1::Envelope request = Request()) {
    return Attack(options, [&](AsapClient& client, Outcome&) {
      return client.Send(request).status();
    });
  }
  static Outcome Send(absl::string_view mode,
                      absl::Duration timeout = kLongTimeout) {
    return Send(Options(mode, timeout));
  }
  static Outcome Stream(absl::string_view mode,
                        absl::Duration timeout = kLongTimeout) {
    return Attack(Options(mode, timeout),
                  [](AsapClient& client, Outcome& outcome) {
                    return client
                        .SendStream(Request(),
                                    [&](const v1::Envelope& e) {
                                      outcome.intermediates.push_back(e);
                                    })
                        .status();
                  });
  }
  static Outcome Manifest(absl::string_view mode,
                          absl::Duration timeout = kLongTimeout) {
    return Attack(Options(mode, timeout), [](AsapClient& client, Outcome&) {
      return client.GetManifest().status();
    });
  }

  // Requests the server saw in `mode` (its control route), -1 on failure.
  static int64_t Requests(absl::string_view mode) {
    const std::string url =
        absl::StrCat("http://", server_->address(), "/_stats");
    std::string answer;
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
    const CURLcode code = curl_easy_perform(easy);
    curl_easy_cleanup(easy);
    if (code != CURLE_OK) return -1;
    rapidjson::Document stats;
    stats.Parse(answer.c_str());
    const std::string key(mode);
    if (!stats.IsObject()) return -1;
    if (!stats.HasMember(key.c_str())) return 0;
    if (!stats[key.c_str()].IsInt64()) return -1;
    return stats[key.c_str()].GetInt64();
  }

  static ServerProcess* server_;
};

ServerProcess* HostileServerTest::server_ = nullptr;

std::string Describe(const Outcome& o) {
  return absl::StrCat(o.status.ToString().substr(0, 300), " after ",
                      absl::FormatDuration(o.elapsed), " (teardown ",
                      absl::FormatDuration(o.teardown), ", peak +",
                      o.peak_growth_bytes >> 10, " KiB)");
}

// Common to every attack: an ASAP error, a bounded teardown, bounded memory.
void ExpectBounded(const Outcome& o) {
  EXPECT_TRUE(ErrorCodeOf(o.status).has_value()) << Describe(o);
  EXPECT_LT(o.teardown, absl::Seconds(5)) << Describe(o);
  EXPECT_LT(o.peak_growth_bytes, MaxPeakGrowthBytes()) << Describe(o);
}

// The attack failed with `code` at once: long before kLongTimeout.
void ExpectFailsPromptly(const Outcome& o, ErrorCode code) {
  EXPECT_EQ(ErrorCodeOf(o.status), code) << Describe(o);
  EXPECT_LT(o.elapsed, kPromptly) << Describe(o);
  ExpectBounded(o);
}

// The attack failed with `code` by its deadline (kShortTimeout), plus a
// generous margin: it did not hang.
void ExpectFailsByDeadline(const Outcome& o, ErrorCode code) {
  EXPECT_EQ(ErrorCodeOf(o.status), code) << Describe(o);
  EXPECT_LT(o.elapsed, 3 * kShortTimeout) << Describe(o);
  ExpectBounded(o);
}

// ---- the harness itself --------------------------------------------------

TEST_F(HostileServerTest, WellBehavedModeAnswers) {
  Outcome sent = Send("ok");
  EXPECT_TRUE(sent.status.ok()) << Describe(sent);
  Outcome streamed = Stream("ok");
  EXPECT_TRUE(streamed.status.ok()) << Describe(streamed);
  EXPECT_EQ(streamed.intermediates.size(), 1u);
  // Also a max-age past int64 (ignored: the client's own TTL applies).
  Outcome manifest = Manifest("ok");
  EXPECT_TRUE(manifest.status.ok()) << Describe(manifest);
}

TEST_F(HostileServerTest, AutoProbeOfAnHttp1OnlyServerThenSilence) {
  // The HTTP/2 question (prior knowledge) is refused by closing; the call
  // then goes over HTTP/1.1 and meets silence: it ends at its deadline.
  ClientOptions options = Options("silent", kShortTimeout);
  options.http.protocol = HttpProtocol::kAuto;
  std::string protocol;
  Outcome o = Attack(options, [&](AsapClient& client, Outcome&) {
    absl::Status status = client.Send(Request()).status();
    protocol = client.http_stats().protocol;
    return status;
  });
  ExpectFailsByDeadline(o, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(protocol, "http/1.1");
}

// ---- bodies that never end -----------------------------------------------

TEST_F(HostileServerTest, EndlessChunkedBodyIsTooLarge) {
  ExpectFailsPromptly(Send("endless-chunked"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, PetabyteContentLengthIsTooLarge) {
  ExpectFailsPromptly(Send("huge-length"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, EndlessManifestBodyIsTooLarge) {
  ExpectFailsPromptly(Manifest("endless-chunked"), ErrorCode::kPayloadTooLarge);
}

// ---- hostile headers ---------------------------------------------------

TEST_F(HostileServerTest, TwentyThousandHeadersAreTooLarge) {
  ExpectFailsPromptly(Send("many-headers"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, EndlessHeadersAreTooLarge) {
  ExpectFailsPromptly(Send("endless-headers"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, SixteenMegabyteHeaderLineIsTooLarge) {
  ExpectFailsPromptly(Send("huge-header"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, EndlessInterimResponsesAreTooLarge) {
  // "100 Continue" forever: no byte of them is body, but all are head.
  ExpectFailsPromptly(Send("endless-continue"), ErrorCode::kPayloadTooLarge);
}

// ---- silence and slowness ------------------------------------------------

TEST_F(HostileServerTest, HeadersThenNoBodyEndsAtTheDeadline) {
  ExpectFailsByDeadline(Send("no-body", kShortTimeout),
                        ErrorCode::kDeadlineExceeded);
}

TEST_F(HostileServerTest, NoAnswerAtAllEndsAtTheDeadline) {
  ExpectFailsByDeadline(Send("silent", kShortTimeout),
                        ErrorCode::kDeadlineExceeded);
}

TEST_F(HostileServerTest, OneBodyBytePerTenthOfASecondEndsAtTheDeadline) {
  ExpectFailsByDeadline(Send("drip", kShortTimeout),
                        ErrorCode::kDeadlineExceeded);
}

TEST_F(HostileServerTest, OneHeaderBytePerTenthOfASecondEndsAtTheDeadline) {
  ExpectFailsByDeadline(Send("drip-headers", kShortTimeout),
                        ErrorCode::kDeadlineExceeded);
}

TEST_F(HostileServerTest, ManifestSilenceEndsAtTheDeadline) {
  ExpectFailsByDeadline(Manifest("silent", kShortTimeout),
                        ErrorCode::kDeadlineExceeded);
}

TEST_F(HostileServerTest, ServerThatNeverReadsTheRequestEndsAtTheDeadline) {
  // 8 MB of request body to a server that accepts and never reads: the
  // send stalls on full socket buffers, and must still end at the deadline.
  ClientOptions options = Options("noread", kShortTimeout);
  options.max_message_bytes = 16 << 20;
  options.compression.algorithm = Compression::kNone;
  Outcome o = Send(options, Request(8 << 20));
  EXPECT_EQ(ErrorCodeOf(o.status), ErrorCode::kDeadlineExceeded) << Describe(o);
  EXPECT_LT(o.elapsed, 3 * kShortTimeout) << Describe(o);
  EXPECT_LT(o.teardown, absl::Seconds(5)) << Describe(o);
}

// ---- not HTTP, broken HTTP -----------------------------------------------

TEST_F(HostileServerTest, GarbageInsteadOfHttpIsUnavailable) {
  const int64_t before = Requests("garbage");
  ExpectFailsPromptly(Send("garbage"), ErrorCode::kUnavailable);
  // Retried as a connection error, no more than max_retries times.
  EXPECT_EQ(Requests("garbage") - before, 1 + kMaxRetries);
}

TEST_F(HostileServerTest, AbsurdStatusCodeIsUnavailable) {
  ExpectFailsPromptly(Send("bad-status"), ErrorCode::kUnavailable);
}

TEST_F(HostileServerTest, AbsurdChunkSizeIsUnavailable) {
  ExpectFailsPromptly(Send("bad-chunk"), ErrorCode::kUnavailable);
}

TEST_F(HostileServerTest, BodyShorterThanItsLengthIsUnavailable) {
  ExpectFailsPromptly(Send("short-body"), ErrorCode::kUnavailable);
}

TEST_F(HostileServerTest, ConnectionResetMidResponseIsUnavailable) {
  ExpectFailsPromptly(Send("reset"), ErrorCode::kUnavailable);
}

// ---- hostile JSON in a 200 -------------------------------------------------

TEST_F(HostileServerTest, InvalidJsonIsInternal) {
  ExpectFailsPromptly(Send("invalid-json"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, InvalidUtf8IsInternal) {
  ExpectFailsPromptly(Send("not-utf8"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, JsonArrayAnswerIsInternal) {
  ExpectFailsPromptly(Send("json-array"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, ResultOfTheWrongShapeIsInternal) {
  ExpectFailsPromptly(Send("wrong-result"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, EnvelopeOfWrongTypesIsMalformed) {
  ExpectFailsPromptly(Send("wrong-types"), ErrorCode::kMalformedEnvelope);
}

TEST_F(HostileServerTest, EnvelopeWithTenThousandUnknownMembersIsMalformed) {
  ExpectFailsPromptly(Send("many-members"), ErrorCode::kMalformedEnvelope);
}

TEST_F(HostileServerTest, HundredThousandLevelsOfArraysAreInternal) {
  ExpectFailsPromptly(Send("deep-array"), ErrorCode::kInternal);
  ExpectFailsPromptly(Send("deep-array-max"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, HundredThousandLevelsInThePayloadAreMalformed) {
  ExpectFailsPromptly(Send("deep-payload"), ErrorCode::kMalformedEnvelope);
}

TEST_F(HostileServerTest, HundredThousandLevelsInErrorDataAreInternal) {
  Outcome o = Send("deep-error");
  ExpectFailsPromptly(o, ErrorCode::kInternal);
  EXPECT_LT(o.status.message().size(), 2000u) << Describe(o);
}

TEST_F(HostileServerTest, HundredThousandLevelsInAn500AreUnavailable) {
  ExpectFailsPromptly(Send("deep-http-error"), ErrorCode::kUnavailable);
}

TEST_F(HostileServerTest, HugeErrorIsQuotedBriefly) {
  Outcome o = Send("many-error-members");
  ExpectFailsPromptly(o, ErrorCode::kInternal);
  EXPECT_LT(o.status.message().size(), 2000u) << Describe(o);
}

TEST_F(HostileServerTest, HostileBatchArrayCountsOnlyRealAnswers) {
  // A v2 server answers a batch array with one real answer, a duplicate of
  // it, ids out of range or of the wrong type, non-objects and 10k strays.
  ClientOptions options = Options("batch-hostile", kLongTimeout);
  options.compression.algorithm =
      Compression::kNone;  // the server reads the ids
  absl::StatusOr<AsapClient::BatchResults> results;
  Outcome o = Attack(options, [&](AsapClient& client, Outcome&) {
    results = client.SendBatch(std::vector<v1::Envelope>(4, Request()));
    EXPECT_EQ(client.http_stats().batch_arrays, 1u);
    return results.status();
  });
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 4u);
  // The first goes alone (to learn the version), the rest as one array.
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].status();
  EXPECT_TRUE((*results)[1].ok()) << (*results)[1].status();
  EXPECT_EQ(ErrorCodeOf((*results)[2].status()), ErrorCode::kInternal);
  EXPECT_EQ(ErrorCodeOf((*results)[3].status()), ErrorCode::kInternal);
  EXPECT_LT(o.elapsed, kPromptly) << Describe(o);
  EXPECT_LT(o.peak_growth_bytes, MaxPeakGrowthBytes()) << Describe(o);
}

// ---- compression
// -------------------------------------------------------------

TEST_F(HostileServerTest, GzipBombIsTooLarge) {
  ExpectFailsPromptly(Send("gzip-bomb"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, GzipBombInA413IsTooLarge) {
  ExpectFailsPromptly(Send("gzip-bomb-413"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, GzipBombManifestIsTooLarge) {
  ExpectFailsPromptly(Manifest("gzip-bomb"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, CorruptBrotliIsCorruptBody) {
  ExpectFailsPromptly(Send("br-corrupt"), ErrorCode::kCorruptBody);
}

TEST_F(HostileServerTest, UnknownContentEncodingIsUnsupported) {
  ExpectFailsPromptly(Send("unknown-encoding"),
                      ErrorCode::kUnsupportedEncoding);
}

// ---- redirects are never followed -----------------------------------------

TEST_F(HostileServerTest, RedirectsAreNotFollowed) {
  const int64_t target_before = Requests("redirect-target");
  const int64_t redirect_before = Requests("redirect");
  const int64_t redirect_307_before = Requests("redirect-307");
  Outcome found = Send("redirect");
  ExpectFailsPromptly(found, ErrorCode::kInternal);
  EXPECT_TRUE(absl::StrContains(found.status.message(), "HTTP 302"))
      << Describe(found);
  ExpectFailsPromptly(Send("redirect-307"), ErrorCode::kInternal);
  ExpectFailsPromptly(Manifest("redirect"), ErrorCode::kInternal);
  ExpectFailsPromptly(Stream("redirect"), ErrorCode::kInternal);
  ExpectFailsPromptly(Send("redirect-port1"), ErrorCode::kInternal);
  // Not retried either, and the Location was never visited.
  EXPECT_EQ(Requests("redirect") - redirect_before, 3);
  EXPECT_EQ(Requests("redirect-307") - redirect_307_before, 1);
  EXPECT_EQ(Requests("redirect-target"), target_before);
}

// ---- 429 asking for the impossible ----------------------------------------

TEST_F(HostileServerTest, RetryAfterOfThirtyYearsFailsAtOnce) {
  const int64_t before = Requests("retry-after-huge");
  ExpectFailsPromptly(Send("retry-after-huge"), ErrorCode::kRateLimited);
  EXPECT_EQ(Requests("retry-after-huge") - before, 1);
}

TEST_F(HostileServerTest, RetryAfterTheYear9999FailsAtOnce) {
  const int64_t before = Requests("retry-after-date");
  ExpectFailsPromptly(Send("retry-after-date"), ErrorCode::kRateLimited);
  EXPECT_EQ(Requests("retry-after-date") - before, 1);
}

TEST_F(HostileServerTest, RetryAfterPastInt64FailsAtOnce) {
  const int64_t before = Requests("retry-after-overflow");
  ExpectFailsPromptly(Send("retry-after-overflow"), ErrorCode::kRateLimited);
  EXPECT_EQ(Requests("retry-after-overflow") - before, 1);
}

TEST_F(HostileServerTest, NegativeRetryAfterFallsBackToBackoff) {
  const int64_t before = Requests("retry-after-negative");
  ExpectFailsPromptly(Send("retry-after-negative"), ErrorCode::kRateLimited);
  EXPECT_EQ(Requests("retry-after-negative") - before, 1 + kMaxRetries);
}

TEST_F(HostileServerTest, GarbageRetryAfterFallsBackToBackoff) {
  const int64_t before = Requests("retry-after-garbage");
  ExpectFailsPromptly(Send("retry-after-garbage"), ErrorCode::kRateLimited);
  EXPECT_EQ(Requests("retry-after-garbage") - before, 1 + kMaxRetries);
}

// ---- manifests -------------------------------------------------------------

TEST_F(HostileServerTest, NotModifiedWithoutACachedManifestIsInternal) {
  ExpectFailsPromptly(Manifest("not-modified"), ErrorCode::kInternal);
  ClientOptions uncached = Options("not-modified", kLongTimeout);
  uncached.manifest_cache.enabled = false;
  ExpectFailsPromptly(
      Attack(uncached, [](AsapClient& client,
                          Outcome&) { return client.GetManifest().status(); }),
      ErrorCode::kInternal);
}

TEST_F(HostileServerTest, InvalidManifestJsonIsMalformedManifest) {
  ExpectFailsPromptly(Manifest("manifest-invalid"),
                      ErrorCode::kMalformedManifest);
}

TEST_F(HostileServerTest, DeepManifestIsMalformedManifest) {
  ExpectFailsPromptly(Manifest("manifest-deep"), ErrorCode::kMalformedManifest);
  // As deep as the message limit allows, in arrays and in a Struct.
  ExpectFailsPromptly(Manifest("manifest-deep-max"),
                      ErrorCode::kMalformedManifest);
  ExpectFailsPromptly(Manifest("manifest-deep-schema"),
                      ErrorCode::kMalformedManifest);
}

// ---- Server-Sent Events ----------------------------------------------------

TEST_F(HostileServerTest, StreamLineOfHundredMegabytesIsTooLarge) {
  ExpectFailsPromptly(Stream("sse-long-line"), ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, StreamEventThatNeverEndsIsTooLarge) {
  ExpectFailsPromptly(Stream("sse-many-data-lines"),
                      ErrorCode::kPayloadTooLarge);
}

TEST_F(HostileServerTest, StreamWithoutAFinalEnvelopeEndsAtTheDeadline) {
  Outcome o = Stream("sse-endless", kShortTimeout);
  ExpectFailsByDeadline(o, ErrorCode::kDeadlineExceeded);
  EXPECT_GT(o.intermediates.size(), 0u);
}

TEST_F(HostileServerTest, StreamFinalEnvelopeReturnsThoughTheStreamStaysOpen) {
  Outcome o = Stream("sse-final-then-silence");
  EXPECT_TRUE(o.status.ok()) << Describe(o);
  EXPECT_LT(o.elapsed, kPromptly) << Describe(o);
  EXPECT_EQ(o.intermediates.size(), 1u);
  EXPECT_LT(o.teardown, absl::Seconds(5)) << Describe(o);
  EXPECT_LT(o.peak_growth_bytes, MaxPeakGrowthBytes()) << Describe(o);
}

TEST_F(HostileServerTest,
       StreamAsyncFinalEnvelopeArrivesThoughTheStreamStaysOpen) {
  // Over HTTP/1.1 SendStreamAsync reads on after the answer, for the
  // connection's sake, but gives up on a server that does not end it.
  Outcome o = Attack(
      Options("sse-final-then-silence", kLongTimeout),
      [](AsapClient& client, Outcome& outcome) {
        absl::Notification finished;
        absl::Status status = absl::UnknownError("not run");
        client.SendStreamAsync(
            Request(),
            [&](const v1::Envelope& e) { outcome.intermediates.push_back(e); },
            [&](absl::StatusOr<v1::Envelope> final) {
              status = final.status();
              finished.Notify();
            });
        if (!finished.WaitForNotificationWithTimeout(2 * kLongTimeout)) {
          return absl::DeadlineExceededError("done never ran");
        }
        return status;
      });
  EXPECT_TRUE(o.status.ok()) << Describe(o);
  EXPECT_LT(o.elapsed, kPromptly) << Describe(o);
  EXPECT_EQ(o.intermediates.size(), 1u);
  EXPECT_LT(o.teardown, absl::Seconds(5)) << Describe(o);
  EXPECT_LT(o.peak_growth_bytes, MaxPeakGrowthBytes()) << Describe(o);
}

TEST_F(HostileServerTest, StreamErrorEventOfGarbageIsInternal) {
  ExpectFailsPromptly(Stream("sse-error-garbage"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, StreamGivenUpOnDoesNotKeepItsConnection) {
  // After the error event the server keeps the stream open and silent. The
  // call has returned; its request must not hold the client's only
  // connection until the deadline.
  ClientOptions options = Options("sse-error-garbage", kLongTimeout);
  options.pool.pool_maxsize = 1;
  options.pool.pool_connections = 1;
  options.pool.pool_timeout = absl::Seconds(5);
  absl::Status first;
  Outcome o = Attack(options, [&](AsapClient& client, Outcome&) {
    first = client.SendStream(Request(), nullptr).status();
    return client.SendStream(Request(), nullptr).status();
  });
  EXPECT_EQ(ErrorCodeOf(first), ErrorCode::kInternal) << first;
  ExpectFailsPromptly(o, ErrorCode::kInternal);
}

TEST_F(HostileServerTest, StreamErrorEventHundredThousandLevelsDeepIsInternal) {
  ExpectFailsPromptly(Stream("sse-error-deep"), ErrorCode::kInternal);
}

TEST_F(HostileServerTest, StreamEventThatIsNoEnvelopeIsInternal) {
  ExpectFailsPromptly(Stream("sse-garbage-event"), ErrorCode::kInternal);
}

}  // namespace
}  // namespace asap
