#include "server/call_log.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asap/errors.h"
#include "asap/json_escape.h"

namespace asap {
namespace {

// Long enough for a ULID, a URN or a W3C trace id with room to spare; short
// enough that a line stays well under a terminal's or a collector's limits.
constexpr size_t kMaxValueBytes = 128;
constexpr size_t kMaxMessageBytes = 256;
constexpr absl::string_view kCutMark = "...";

// The first `max` bytes of `value`, not splitting a UTF-8 sequence (a cut
// inside one would make the last character invalid); `cut` says whether
// anything was left out.
absl::string_view Prefix(absl::string_view value, size_t max, bool* cut) {
  *cut = value.size() > max;
  if (!*cut) return value;
  size_t end = max;
  // At most three continuation bytes follow a lead byte.
  for (int i = 0; i < 3 && end > 0 &&
                  (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80;
       ++i) {
    --end;
  }
  return value.substr(0, end);
}

// A text value needs quotes when it is empty or holds anything other than
// printable ASCII without space, '=', '"' and '\\'.
bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F || c == '=' || c == '"' || c == '\\') {
      return true;
    }
  }
  return false;
}

// Text values escape like JSON strings for what JSON has a short escape
// for; other controls, DEL, and every byte of a non-ASCII character go out
// as \xHH: nothing a terminal or a line-based reader could act on.
void AppendTextValue(absl::string_view raw, size_t max, std::string* out) {
  bool cut = false;
  absl::string_view value = Prefix(raw, max, &cut);
  if (!NeedsQuotes(value)) {
    absl::StrAppend(out, value, cut ? kCutMark : "");
    return;
  }
  out->push_back('"');
  for (char c : value) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out->push_back('\\');
      out->push_back(c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    } else if (byte < 0x20 || byte >= 0x7F) {
      absl::StrAppendFormat(out, "\\x%02x", byte);
    } else {
      out->push_back(c);
    }
  }
  absl::StrAppend(out, cut ? kCutMark : "", "\"");
}

// A JSON string of pure ASCII (so no U+2028 or bidi control reaches a reader
// raw), cut to `max` bytes with the cut mark inside the quotes.
void AppendJsonValue(absl::string_view raw, size_t max, std::string* out) {
  bool cut = false;
  absl::string_view value = Prefix(raw, max, &cut);
  AppendJsonString(value, JsonEscaping::kAscii, out);
  if (cut) {
    out->pop_back();
    absl::StrAppend(out, kCutMark, "\"");
  }
}

absl::string_view LevelName(CallLogLevel level) {
  switch (level) {
    case CallLogLevel::kOff:
      return "off";
    case CallLogLevel::kError:
      return "error";
    case CallLogLevel::kWarning:
      return "warning";
    case CallLogLevel::kInfo:
      return "info";
  }
  return "info";
}

// One field of a line. Every value but a number is escaped and cut to
// `max` bytes, those the server wrote too: one path for all of them.
struct Field {
  absl::string_view name;
  absl::string_view value;
  size_t max = kMaxValueBytes;
  bool number = false;
};

}  // namespace

absl::StatusOr<CallLogLevel> ParseCallLogLevel(absl::string_view name) {
  for (CallLogLevel level : {CallLogLevel::kOff, CallLogLevel::kError,
                             CallLogLevel::kWarning, CallLogLevel::kInfo}) {
    if (name == LevelName(level)) return level;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the call log level must be off, error, warning or info, "
                   "got '",
                   name.substr(0, 32), "'"));
}

absl::StatusOr<CallLogFormat> ParseCallLogFormat(absl::string_view name) {
  if (name == "text") return CallLogFormat::kText;
  if (name == "json") return CallLogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("the call log format must be text or json, got '",
                   name.substr(0, 32), "'"));
}

CallLogSink CallLogToStream(std::ostream* out) {
  return [out](absl::string_view line) {
    out->write(line.data(), static_cast<std::streamsize>(line.size()));
    out->flush();
  };
}

CallLogLevel CallLogLevelOf(const absl::Status& outcome) {
  switch (outcome.code()) {
    case absl::StatusCode::kOk:
      return CallLogLevel::kInfo;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return CallLogLevel::kError;
    default:
      return CallLogLevel::kWarning;
  }
}

std::string FormatCallLine(const CallRecord& record, CallLogFormat format) {
  const absl::Status& outcome = record.outcome;
  std::string time = absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", record.time,
                                      absl::UTCTimeZone());
  std::string latency_ms =
      absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(record.latency));
  absl::string_view outcome_name = "OK";
  if (std::optional<ErrorCode> code = ErrorCodeOf(outcome)) {
    outcome_name = ErrorCodeName(*code);
  }
  std::string code_name = absl::StatusCodeToString(outcome.code());
  std::vector<Field> fields = {
      {"time", time},
      {"level", LevelName(CallLogLevelOf(outcome))},
      {"binding", record.binding},
      {"id", record.id},
      {"trace_id", record.trace_id},
      {"sender", record.sender},
      {"payload_type", record.payload_type},
      {"outcome", outcome_name},
      {"code", code_name},
      {"latency_ms", latency_ms, kMaxValueBytes, /*number=*/true},
  };
  // An error's message quotes parts of the request.
  if (!outcome.ok()) {
    fields.push_back({"message", outcome.message(), kMaxMessageBytes});
  }
  std::string line;
  line.reserve(512);
  if (format == CallLogFormat::kJson) {
    line.push_back('{');
    for (size_t i = 0; i < fields.size(); ++i) {
      const Field& field = fields[i];
      absl::StrAppend(&line, i == 0 ? "\"" : ",\"", field.name, "\":");
      if (field.number) {
        line.append(field.value.data(), field.value.size());
      } else {
        AppendJsonValue(field.value, field.max, &line);
      }
    }
    line.append("}\n");
    return line;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& field = fields[i];
    absl::StrAppend(&line, i == 0 ? "" : " ", field.name, "=");
    AppendTextValue(field.value, field.max, &line);
  }
  line.push_back('\n');
  return line;
}

CallLog::CallLog(CallLogOptions options) : options_(std::move(options)) {}

void CallLog::Record(const CallRecord& record) const {
  if (!ShouldLog(record.outcome)) return;
  Write(FormatCallLine(record, options_.format));
}

void CallLog::Write(absl::string_view line) const {
  absl::MutexLock lock(&mu_);
  if (options_.sink) {
    options_.sink(line);
    return;
  }
  // stderr is unbuffered: the whole line goes out in one write.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::function<void(absl::StatusOr<v1::Envelope>)> CallLog::Wrap(
    const v1::Envelope* request, absl::string_view binding,
    std::function<void(absl::StatusOr<v1::Envelope>)> done) const {
  if (!enabled()) return done;
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
  return [this, request, binding, start,
          done = std::move(done)](absl::StatusOr<v1::Envelope> result) {
    if (ShouldLog(result.status())) {
      CallRecord record;
      record.time = absl::Now();
      record.binding = binding;
      record.id = request->id();
      record.trace_id = request->trace_id();
      record.sender = request->sender();
      record.payload_type = request->payload_type();
      record.outcome = result.status();
      record.latency =
          absl::FromChrono(std::chrono::steady_clock::now() - start);
      Record(record);
    }
    done(std::move(result));
  };
}

}  // namespace asap
