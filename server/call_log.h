// CallLog: one structured log line per envelope call the server answers.
//
//   asap::ServerOptions options;
//   options.call_log.level = asap::CallLogLevel::kInfo;    // off by default
//   options.call_log.format = asap::CallLogFormat::kJson;  // or kText
//   // options.call_log.sink: where lines go; stderr when unset.
//
// Every envelope the dispatcher answers (a unary Send on either binding,
// each envelope of a SendBatch, a stream when it ends) gives one line with
// its id, trace_id, sender, payload_type, the binding that carried it, the
// outcome (OK or the ASAP error code, with the gRPC status code) and the
// latency from dispatch to answer:
//
//   time=2026-11-29T15:08:25.123456Z level=info binding=grpc id=01J...
//   trace_id=t-1 sender=urn:asap:agent:alice payload_type=task.request
//   outcome=OK code=OK latency_ms=0.412
//
// (one line in the log). Calls that succeed log at info, failures at
// warning, and failures of the server itself (INTERNAL, UNKNOWN, DATA_LOSS:
// a handler that threw or answered an invalid envelope) at error.
//
// The values come from the network, so none of them can shape the log: each
// is cut to a bounded length, and every byte outside printable ASCII (line
// breaks, control characters, Unicode line separators, invalid UTF-8) is
// escaped; in text form a value with a space, '=' or '"' is quoted, and in
// JSON form the line is pure-ASCII JSON. A line is written whole, by one
// call of the sink, with no other line of the same CallLog in between.
#ifndef ASAP_SERVER_CALL_LOG_H_
#define ASAP_SERVER_CALL_LOG_H_

#include <functional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asap/v1/envelope.pb.h"

namespace asap {

// The least severe calls that are logged; each level includes those above.
enum class CallLogLevel {
  kOff,      // nothing
  kError,    // failures of the server itself (INTERNAL, UNKNOWN, DATA_LOSS)
  kWarning,  // and every other failure (the caller's: invalid, refused, ...)
  kInfo,     // and every call that succeeded
};

enum class CallLogFormat {
  kText,  // key=value pairs separated by spaces
  kJson,  // one JSON object per line
};

// Receives one complete line, ending in '\n'. Called by one thread at a time
// per CallLog.
using CallLogSink = std::function<void(absl::string_view line)>;

struct CallLogOptions {
  // kOff (the default) logs nothing and costs the dispatcher nothing.
  CallLogLevel level = CallLogLevel::kOff;
  CallLogFormat format = CallLogFormat::kText;
  // Where lines go; unset: stderr, one write per line.
  CallLogSink sink;
};

// "off", "error", "warning" or "info"; InvalidArgument for anything else.
absl::StatusOr<CallLogLevel> ParseCallLogLevel(absl::string_view name);
// "text" or "json"; InvalidArgument for anything else.
absl::StatusOr<CallLogFormat> ParseCallLogFormat(absl::string_view name);

// A sink that writes each line to `out` and flushes it. `out` is not owned
// and must outlive every CallLog that uses the sink.
CallLogSink CallLogToStream(std::ostream* out);

// What one line reports. The views must stay valid while the line is
// formatted.
struct CallRecord {
  absl::Time time;  // when the call was answered
  absl::string_view binding;
  absl::string_view id;
  absl::string_view trace_id;
  absl::string_view sender;
  absl::string_view payload_type;
  absl::Status outcome;
  absl::Duration latency;
};

// The level a call with `outcome` is logged at: kInfo for OK, kError for
// INTERNAL, UNKNOWN and DATA_LOSS, otherwise kWarning.
CallLogLevel CallLogLevelOf(const absl::Status& outcome);

// The line for `record` in `format`, ending in '\n'. Envelope values are cut
// to 128 bytes and the error message to 256 (a cut value ends in "...");
// see the file comment for the escaping.
std::string FormatCallLine(const CallRecord& record, CallLogFormat format);

class CallLog {
 public:
  explicit CallLog(CallLogOptions options);

  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  // Whether any call is logged (level is not kOff).
  bool enabled() const { return options_.level != CallLogLevel::kOff; }
  // Whether a call with `outcome` is logged at the configured level.
  bool ShouldLog(const absl::Status& outcome) const {
    return CallLogLevelOf(outcome) <= options_.level &&
           options_.level != CallLogLevel::kOff;
  }

  // Formats and writes `record`'s line when ShouldLog(record.outcome).
  // Thread-safe.
  void Record(const CallRecord& record) const;

  // The callback that stands for `done` in a dispatch of `*request` that
  // starts now: when it is called, it writes the call's line (if the level
  // takes it) and then calls `done` with the same result, so the line is
  // written before the caller has its answer. `request` must stay valid
  // until the callback is called (as the dispatcher requires), `binding`
  // must outlive the call (HandlerContext::binding() is a literal), and
  // this CallLog must outlive the call.
  std::function<void(absl::StatusOr<v1::Envelope>)> Wrap(
      const v1::Envelope* request, absl::string_view binding,
      std::function<void(absl::StatusOr<v1::Envelope>)> done) const;

 private:
  void Write(absl::string_view line) const;

  const CallLogOptions options_;
  mutable absl::Mutex mu_;
};

}  // namespace asap

#endif  // ASAP_SERVER_CALL_LOG_H_
