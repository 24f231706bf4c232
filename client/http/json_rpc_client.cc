#include "client/http/json_rpc_client.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asap/envelope_json.h"
#include "asap/errors.h"

namespace asap::internal {
namespace {

// JSON-RPC 2.0's error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

// Error texts quote at most this much of what a server sent.
constexpr size_t kMaxQuotedBytes = 200;

std::string Quote(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxQuotedBytes), "...");
}

// A RapidJSON handler that writes JSON text until it is longer than Quote
// keeps, then stops the walk: Value::Accept recurses once per nesting level,
// and a server's `data` may nest (and be as long) as it likes.
class BoundedWriter {
 public:
  explicit BoundedWriter(rapidjson::StringBuffer* buffer)
      : buffer_(*buffer), writer_(*buffer) {}

  bool Null() { return Room() && writer_.Null(); }
  bool Bool(bool b) { return Room() && writer_.Bool(b); }
  bool Int(int i) { return Room() && writer_.Int(i); }
  bool Uint(unsigned u) { return Room() && writer_.Uint(u); }
  bool Int64(int64_t i) { return Room() && writer_.Int64(i); }
  bool Uint64(uint64_t u) { return Room() && writer_.Uint64(u); }
  bool Double(double d) { return Room() && writer_.Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Room() && writer_.String(s, n, copy);
  }
  bool StartObject() { return Room() && writer_.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return Room() && writer_.Key(s, n, copy);
  }
  bool EndObject(rapidjson::SizeType n) { return writer_.EndObject(n); }
  bool StartArray() { return Room() && writer_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return writer_.EndArray(n); }

 private:
  bool Room() const { return buffer_.GetSize() <= kMaxQuotedBytes; }

  rapidjson::StringBuffer& buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// `value` as JSON text, cut short somewhere past kMaxQuotedBytes.
std::string ToText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  BoundedWriter writer(&buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

const rapidjson::Value* Member(const rapidjson::Value& object,
                               const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

absl::string_view StringMember(const rapidjson::Value& object,
                               const char* name) {
  const rapidjson::Value* value = Member(object, name);
  if (value == nullptr || !value->IsString()) return {};
  return absl::string_view(value->GetString(), value->GetStringLength());
}

absl::Status Malformed(absl::string_view what) {
  return AsapError(ErrorCode::kInternal,
                   absl::StrCat("the server's answer is not a JSON-RPC "
                                "answer: ",
                                what));
}

// The ASAP error of one JSON-RPC `error` member.
absl::Status ErrorFromValue(const rapidjson::Value& error) {
  if (!error.IsObject()) return Malformed("`error` is not an object");
  const rapidjson::Value* code_value = Member(error, "code");
  const int code =
      code_value != nullptr && code_value->IsInt() ? code_value->GetInt() : 0;
  const absl::string_view message = StringMember(error, "message");
  const rapidjson::Value* data = Member(error, "data");
  const std::string data_text = data != nullptr ? ToText(*data) : "";
  const std::string detail =
      data_text.empty() ? absl::StrCat("JSON-RPC ", code, " ", Quote(message))
                        : absl::StrCat("JSON-RPC ", code, " ", Quote(message),
                                       " ", Quote(data_text));
  // v2 answers, and v1.0's timestamp and nonce errors, name the ASAP code.
  if (data != nullptr) {
    if (std::optional<ErrorCode> asap_code =
            ParseErrorCode(StringMember(*data, "code"))) {
      return AsapError(*asap_code, detail);
    }
  }
  // The reference's authentication errors carry the HTTP status they stand
  // for.
  if (data != nullptr) {
    const rapidjson::Value* status_code = Member(*data, "status_code");
    if (status_code != nullptr && status_code->IsInt()) {
      if (status_code->GetInt() == 401) {
        return AsapError(ErrorCode::kUnauthenticated, detail);
      }
      if (status_code->GetInt() == 403) {
        return AsapError(ErrorCode::kSenderMismatch, detail);
      }
    }
  }
  switch (code) {
    case kParseError:
    case kInvalidRequest:
    case kInvalidParams:
      return AsapError(ErrorCode::kMalformedEnvelope, detail);
    case kMethodNotFound:
      return AsapError(ErrorCode::kHandlerNotFound, detail);
    case 429:
      return AsapError(ErrorCode::kRateLimited, detail);
    default:
      return AsapError(ErrorCode::kInternal, detail);
  }
}

// The envelope of a `result` member.
absl::StatusOr<v1::Envelope> EnvelopeFromResult(rapidjson::Value& result) {
  if (!result.IsObject()) return Malformed("`result` is not an object");
  auto envelope = result.FindMember("envelope");
  if (envelope == result.MemberEnd() || !envelope->value.IsObject()) {
    return Malformed("`result.envelope` is not an object");
  }
  // v2 envelopes carry requires_ack, which a v1.0 Envelope has no field for.
  envelope->value.RemoveMember("requires_ack");
  return EnvelopeFromJsonValue(envelope->value);
}

// The result of one answer object.
absl::StatusOr<v1::Envelope> FromAnswer(rapidjson::Value& answer) {
  if (!answer.IsObject()) return Malformed("not an object");
  if (const rapidjson::Value* error = Member(answer, "error")) {
    return ErrorFromValue(*error);
  }
  auto result = answer.FindMember("result");
  if (result == answer.MemberEnd()) {
    return Malformed("neither `result` nor `error`");
  }
  return EnvelopeFromResult(result->value);
}

absl::Status ParseBody(absl::string_view body, rapidjson::Document* document) {
  if (ParseJsonDocument(body, document).IsError()) {
    return Malformed(absl::StrCat("not JSON: ", Quote(body)));
  }
  return absl::OkStatus();
}

}  // namespace

void AppendJsonRpcSend(const v1::Envelope& envelope, int64_t request_id,
                       std::string* out) {
  absl::StrAppend(out, R"({"jsonrpc":"2.0","method":"asap.send","params":{)"
                       R"("envelope":)");
  AppendEnvelopeJson(envelope, out);
  if (!envelope.id().empty()) {
    // Envelope ids are ULIDs (checked by validation), so no escaping.
    absl::StrAppend(out, R"(,"idempotency_key":")", envelope.id(), "\"");
  }
  absl::StrAppend(out, R"(},"id":)", request_id, "}");
}

std::string JsonRpcSendBody(const v1::Envelope& envelope, int64_t request_id) {
  std::string body;
  AppendJsonRpcSend(envelope, request_id, &body);
  return body;
}

std::string JsonRpcBatchBody(absl::Span<const v1::Envelope* const> envelopes,
                             int64_t first_id) {
  std::string body = "[";
  for (size_t i = 0; i < envelopes.size(); ++i) {
    if (i > 0) body.push_back(',');
    AppendJsonRpcSend(*envelopes[i], first_id + static_cast<int64_t>(i), &body);
  }
  body.push_back(']');
  return body;
}

absl::StatusOr<v1::Envelope> ParseJsonRpcSendAnswer(absl::string_view body) {
  rapidjson::Document document;
  if (absl::Status s = ParseBody(body, &document); !s.ok()) return s;
  return FromAnswer(document);
}

absl::StatusOr<v1::Envelope> ParseJsonRpcSendAnswer(absl::string_view body,
                                                    int64_t request_id) {
  rapidjson::Document document;
  if (absl::Status s = ParseBody(body, &document); !s.ok()) return s;
  const rapidjson::Value* id = Member(document, "id");
  const bool is_error = Member(document, "error") != nullptr;
  const bool same =
      id != nullptr && id->IsInt64() && id->GetInt64() == request_id;
  // An error may carry a null id (the server could not read the request's).
  if (!same && !(is_error && (id == nullptr || id->IsNull()))) {
    return Malformed(
        absl::StrCat("the answer is for another request than ", request_id));
  }
  return FromAnswer(document);
}

absl::StatusOr<std::vector<absl::StatusOr<v1::Envelope>>>
ParseJsonRpcBatchAnswer(absl::string_view body, int64_t first_id,
                        size_t count) {
  rapidjson::Document document;
  if (absl::Status s = ParseBody(body, &document); !s.ok()) return s;
  if (document.IsObject()) {
    // The batch was refused as a whole (too long, say).
    absl::StatusOr<v1::Envelope> whole = FromAnswer(document);
    if (whole.ok()) return Malformed("one answer to a batch");
    return whole.status();
  }
  if (!document.IsArray()) return Malformed("not an array");
  std::vector<absl::StatusOr<v1::Envelope>> results(
      count, AsapError(ErrorCode::kInternal,
                       "the server's batch answer has no answer for this "
                       "request"));
  std::vector<bool> answered(count, false);
  for (rapidjson::Value& answer : document.GetArray()) {
    const rapidjson::Value* id = Member(answer, "id");
    if (id == nullptr || !id->IsInt64() || id->GetInt64() < first_id) continue;
    // id >= first_id: the unsigned difference is exact (no int64 overflow).
    const uint64_t index =
        static_cast<uint64_t>(id->GetInt64()) - static_cast<uint64_t>(first_id);
    // The first answer for an id counts; later duplicates are ignored.
    if (index >= count || answered[index]) continue;
    answered[index] = true;
    results[index] = FromAnswer(answer);
  }
  return results;
}

absl::Status HttpStatusError(int status, absl::string_view body,
                             absl::string_view url) {
  std::string detail = absl::StrCat("HTTP ", status, " from ", url);
  rapidjson::Document document;
  if (!ParseJsonDocument(body, &document).IsError() && document.IsObject()) {
    if (const rapidjson::Value* error = Member(document, "error");
        error != nullptr && error->IsObject()) {
      // A JSON-RPC error carried by an HTTP error status (429).
      absl::Status from_body = ErrorFromValue(*error);
      if (status == 429) {
        // Rate limited, whatever code the body gives.
        return AsapError(ErrorCode::kRateLimited,
                         absl::StrCat(detail, ": ", from_body.message()));
      }
      absl::StrAppend(&detail, ": ", from_body.message());
    } else if (absl::string_view text = StringMember(document, "detail");
               !text.empty()) {
      absl::StrAppend(&detail, ": ", Quote(text));
    } else if (absl::string_view text = StringMember(document, "message");
               !text.empty()) {
      absl::StrAppend(&detail, ": ", Quote(text));
    }
  }
  switch (status) {
    case 413:
      return AsapError(ErrorCode::kPayloadTooLarge, detail);
    case 415:
      return AsapError(ErrorCode::kUnsupportedEncoding, detail);
    case 400:
      return AsapError(ErrorCode::kCorruptBody, detail);
    case 429:
      return AsapError(ErrorCode::kRateLimited, detail);
    default:
      break;
  }
  if (status >= 500) return AsapError(ErrorCode::kUnavailable, detail);
  if (status == 404 || status == 405) {
    return AsapError(ErrorCode::kUnavailable,
                     absl::StrCat(detail, ": no ASAP endpoint there"));
  }
  return AsapError(ErrorCode::kInternal, detail);
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value,
                                              absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  // Delta-seconds past int64 (1*DIGIT): longer than any wait, not unreadable.
  if (!value.empty() &&
      std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
    return absl::InfiniteDuration();
  }
  absl::Time when;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(),
                      &when, &error)) {
    return std::max(absl::ZeroDuration(), when - now);
  }
  return std::nullopt;
}

std::optional<absl::Duration> ParseMaxAge(absl::string_view cache_control) {
  // Directive names are case-insensitive, and no-cache / no-store forbid
  // reuse wherever they stand (also after a max-age).
  std::optional<absl::Duration> max_age;
  bool seen_max_age = false;  // The first max-age counts.
  for (absl::string_view part : absl::StrSplit(cache_control, ',')) {
    const std::string lower =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
    absl::string_view directive = lower;
    if (directive == "no-cache" || directive == "no-store") {
      return absl::ZeroDuration();
    }
    if (!seen_max_age && absl::ConsumePrefix(&directive, "max-age=")) {
      seen_max_age = true;
      int64_t seconds = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(directive), &seconds) &&
          seconds >= 0) {
        max_age = absl::Seconds(seconds);
      }
    }
  }
  return max_age;
}

}  // namespace asap::internal
