#include "server/http/json_rpc.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asap/envelope_json.h"
#include "asap/errors.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace asap {
namespace {

// Counts values and depth while RapidJSON builds its document, and stops the
// parse as soon as a limit is passed: nothing over the limits is ever held.
template <typename Handler>
class LimitedHandler {
 public:
  LimitedHandler(Handler* handler, const JsonRpcBodyLimits& limits)
      : handler_(handler), limits_(limits) {}

  bool Null() { return Value() && handler_->Null(); }
  bool Bool(bool b) { return Value() && handler_->Bool(b); }
  bool Int(int i) { return Value() && handler_->Int(i); }
  bool Uint(unsigned u) { return Value() && handler_->Uint(u); }
  bool Int64(int64_t i) { return Value() && handler_->Int64(i); }
  bool Uint64(uint64_t u) { return Value() && handler_->Uint64(u); }
  bool Double(double d) { return Value() && handler_->Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool copy) {
    return Value() && handler_->RawNumber(str, length, copy);
  }
  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    return Value() && handler_->String(str, length, copy);
  }
  bool StartObject() { return Open() && handler_->StartObject(); }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    return handler_->Key(str, length, copy);
  }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return handler_->EndObject(members);
  }
  bool StartArray() { return Open() && handler_->StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return handler_->EndArray(elements);
  }

  int64_t values() const { return values_; }
  const std::string& exceeded() const { return exceeded_; }

 private:
  bool Value() {
    if (++values_ > limits_.max_json_values) {
      exceeded_ = absl::StrCat("the body holds more than ",
                               limits_.max_json_values, " JSON values");
      return false;
    }
    return true;
  }
  bool Open() {
    if (!Value()) return false;
    if (++depth_ > limits_.max_depth) {
      exceeded_ = absl::StrCat("the body nests JSON deeper than ",
                               limits_.max_depth, " levels");
      return false;
    }
    return true;
  }

  Handler* handler_;
  const JsonRpcBodyLimits& limits_;
  int64_t values_ = 0;
  int depth_ = 0;
  std::string exceeded_;
};

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The Python name of a JSON value's type, as the reference reports it.
absl::string_view PythonTypeName(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "NoneType";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "bool";
    case rapidjson::kObjectType:
      return "dict";
    case rapidjson::kArrayType:
      return "list";
    case rapidjson::kStringType:
      return "str";
    case rapidjson::kNumberType:
      return value.IsInt64() || value.IsUint64() ? "int" : "float";
  }
  return "unknown";
}

JsonRpcError Error(int code, absl::string_view message, std::string data) {
  JsonRpcError error;
  error.code = code;
  error.message = std::string(message);
  error.data_json = std::move(data);
  return error;
}

JsonRpcError InvalidRequest(absl::string_view what) {
  return Error(kJsonRpcInvalidRequest, "Invalid Request",
               absl::StrCat("{\"error\":\"Invalid JSON-RPC request\","
                            "\"validation_errors\":[",
                            JsonQuote(what), "]}"));
}

// The request's id as JSON when it is a string or an integer.
std::optional<std::string> IdJson(const rapidjson::Value& request) {
  auto id = request.FindMember("id");
  if (id == request.MemberEnd()) return std::nullopt;
  if (id->value.IsString() || id->value.IsInt64() || id->value.IsUint64()) {
    return Serialize(id->value);
  }
  return std::nullopt;
}

// v2 envelopes always carry requires_ack; a v1.0 envelope has no such field.
constexpr absl::string_view kV2EnvelopeFields[] = {"requires_ack"};

void ParseItem(rapidjson::Value& request, const ProtocolVersion& version,
               JsonRpcItem* item) {
  if (!request.IsObject()) {
    item->error =
        Error(kJsonRpcInvalidRequest, "Invalid Request",
              absl::StrCat("{\"error\":\"Request must be a JSON object\","
                           "\"received_type\":",
                           JsonQuote(PythonTypeName(request)), "}"));
    return;
  }
  if (std::optional<std::string> id = IdJson(request)) item->id_json = *id;
  for (auto member = request.MemberBegin(); member != request.MemberEnd();
       ++member) {
    absl::string_view name(member->name.GetString(),
                           member->name.GetStringLength());
    if (name != "jsonrpc" && name != "method" && name != "params" &&
        name != "id") {
      item->error =
          InvalidRequest(absl::StrCat("unknown member '", name.substr(0, 64),
                                      "' (allowed: jsonrpc, "
                                      "method, params, id)"));
      return;
    }
  }
  auto jsonrpc = request.FindMember("jsonrpc");
  if (jsonrpc == request.MemberEnd() || !jsonrpc->value.IsString() ||
      absl::string_view(jsonrpc->value.GetString(),
                        jsonrpc->value.GetStringLength()) != "2.0") {
    item->error = InvalidRequest("'jsonrpc' must be \"2.0\"");
    return;
  }
  auto method = request.FindMember("method");
  if (method == request.MemberEnd() || !method->value.IsString()) {
    item->error = InvalidRequest("'method' must be a string");
    return;
  }
  auto id = request.FindMember("id");
  if (id == request.MemberEnd() ||
      !(id->value.IsString() || id->value.IsInt64() || id->value.IsUint64())) {
    item->error = InvalidRequest("'id' must be a string or an integer");
    return;
  }
  auto params = request.FindMember("params");
  if (params == request.MemberEnd() || !params->value.IsObject()) {
    item->error =
        Error(kJsonRpcInvalidParams, "Invalid params",
              absl::StrCat("{\"error\":\"params must be an object\","
                           "\"received_type\":",
                           JsonQuote(params == request.MemberEnd()
                                         ? "NoneType"
                                         : PythonTypeName(params->value)),
                           "}"));
    return;
  }
  absl::string_view method_name(method->value.GetString(),
                                method->value.GetStringLength());
  if (method_name != kAsapSendMethod) {
    item->error =
        Error(kJsonRpcMethodNotFound, "Method not found",
              absl::StrCat(
                  "{\"method\":", JsonQuote(method_name.substr(0, 256)), "}"));
    return;
  }
  auto envelope = params->value.FindMember("envelope");
  if (envelope == params->value.MemberEnd() || !envelope->value.IsObject()) {
    item->error = Error(
        kJsonRpcInvalidParams, "Invalid params",
        absl::StrCat("{\"error\":\"Invalid envelope\",\"validation_errors\":[",
                     JsonQuote(envelope == params->value.MemberEnd()
                                   ? "params.envelope is required"
                                   : "params.envelope must be an object"),
                     "]}"));
    return;
  }
  if (version.is_v2()) {
    for (absl::string_view field : kV2EnvelopeFields) {
      envelope->value.RemoveMember(
          rapidjson::StringRef(field.data(), field.size()));
    }
  }
  absl::StatusOr<v1::Envelope> parsed = EnvelopeFromJsonValue(envelope->value);
  if (!parsed.ok()) {
    item->error = Error(
        kJsonRpcInvalidParams, "Invalid params",
        absl::StrCat("{\"error\":\"Invalid envelope\",\"validation_errors\":[",
                     JsonQuote(parsed.status().message()), "]}"));
    return;
  }
  item->envelope = *std::move(parsed);
}

struct BandEntry {
  ErrorCode code;
  int json_rpc_code;
};

// The v2 band. Codes are never reused: a new ASAP code gets a new number.
constexpr BandEntry kBand[] = {
    {ErrorCode::kInternal, -32000},
    {ErrorCode::kMalformedEnvelope, -32001},
    {ErrorCode::kInvalidTimestamp, -32002},
    {ErrorCode::kInvalidNonce, -32003},
    {ErrorCode::kMalformedManifest, -32004},
    {ErrorCode::kInvalidState, -32005},
    {ErrorCode::kTaskNotFound, -32010},
    {ErrorCode::kTaskAlreadyCompleted, -32011},
    {ErrorCode::kHandlerNotFound, -32020},
    {ErrorCode::kCircuitOpen, -32021},
    {ErrorCode::kThreadPoolExhausted, -32022},
    {ErrorCode::kPayloadTooLarge, -32023},
    {ErrorCode::kResourceExhausted, -32024},
    {ErrorCode::kUnsupportedEncoding, -32025},
    {ErrorCode::kCorruptBody, -32026},
    {ErrorCode::kPoolExhausted, -32027},
    {ErrorCode::kUnavailable, -32028},
    {ErrorCode::kDeadlineExceeded, -32029},
    {ErrorCode::kCancelled, -32030},
    {ErrorCode::kUnsupportedAuthScheme, -32040},
    {ErrorCode::kUnauthenticated, -32041},
    {ErrorCode::kSenderMismatch, -32042},
    {ErrorCode::kForbidden, -32043},
    {ErrorCode::kRateLimited, -32031},
};

int BandCode(ErrorCode code) {
  for (const BandEntry& entry : kBand) {
    if (entry.code == code) return entry.json_rpc_code;
  }
  return -32000;
}

// The detail of an ASAP error message ("asap:x/y: detail" -> "detail").
absl::string_view Detail(const absl::Status& status, ErrorCode code) {
  absl::string_view message = status.message();
  absl::string_view name = ErrorCodeName(code);
  if (absl::StartsWith(message, name)) {
    message.remove_prefix(name.size());
    if (absl::StartsWith(message, ": ")) message.remove_prefix(2);
  }
  return message;
}

bool IsOverload(ErrorCode code) {
  return code == ErrorCode::kResourceExhausted ||
         code == ErrorCode::kThreadPoolExhausted;
}

void AppendEnvelopeJsonFor(const v1::Envelope& envelope,
                           const ProtocolVersion& version, std::string* out) {
  size_t start = out->size();
  AppendEnvelopeJson(envelope, out);
  if (version.is_v2()) {
    out->pop_back();
    out->append(out->size() - start > 1 ? ",\"requires_ack\":false}"
                                        : "\"requires_ack\":false}");
  }
}

}  // namespace

std::string JsonQuote(absl::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string DetailBody(absl::string_view detail) {
  return absl::StrCat("{\"detail\":", JsonQuote(detail), "}");
}

ProtocolVersion NegotiateProtocolVersion(
    std::optional<absl::string_view> header) {
  ProtocolVersion version;
  if (!header.has_value()) return version;
  for (absl::string_view entry : absl::StrSplit(*header, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    entry = entry.substr(0, entry.find(';'));
    entry = absl::StripAsciiWhitespace(entry);
    for (absl::string_view supported : kSupportedV2Versions) {
      if (entry == supported) {
        version.v2 = std::string(supported);
        return version;
      }
    }
  }
  return version;
}

absl::StatusOr<JsonRpcBody> ParseJsonRpcBody(absl::string_view body,
                                             const JsonRpcBodyLimits& limits,
                                             const ProtocolVersion& version) {
  JsonRpcBody result;
  rapidjson::Document document;
  rapidjson::MemoryStream stream(body.data(), body.size());
  rapidjson::Reader reader;
  std::string exceeded;
  auto generator = [&](rapidjson::Document& handler) {
    // Numbers as protobuf's JSON parser reads them (ExactNumberHandler).
    ExactNumberHandler<rapidjson::Document> exact(&handler);
    LimitedHandler<ExactNumberHandler<rapidjson::Document>> limited(&exact,
                                                                    limits);
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream>
        input(stream);
    bool ok = reader.Parse<kJsonParseFlags>(input, limited);
    exceeded = limited.exceeded();
    result.json_values = limited.values();
    return ok;
  };
  document.Populate(generator);
  if (!exceeded.empty()) {
    return AsapError(ErrorCode::kResourceExhausted, exceeded);
  }
  if (reader.HasParseError()) {
    result.parse_error =
        Error(kJsonRpcParseError, "Parse error",
              absl::StrCat(
                  "{\"error\":",
                  JsonQuote(absl::StrCat(
                      "Invalid JSON: ",
                      rapidjson::GetParseError_En(reader.GetParseErrorCode()),
                      " (at byte ", reader.GetErrorOffset(), ")")),
                  "}"));
    return result;
  }
  if (!document.IsArray()) {
    result.items.emplace_back();
    ParseItem(document, version, &result.items.back());
    return result;
  }
  if (document.Empty() || document.Size() > limits.max_batch_items) {
    result.items.emplace_back();
    result.items.back().error = InvalidRequest(
        document.Empty()
            ? std::string("a batch must hold at least one request")
            : absl::StrCat("a batch holds at most ", limits.max_batch_items,
                           " requests (got ", document.Size(), ")"));
    return result;
  }
  result.is_batch = true;
  result.items.resize(document.Size());
  for (rapidjson::SizeType i = 0; i < document.Size(); ++i) {
    ParseItem(document[i], version, &result.items[i]);
  }
  return result;
}

int AsapJsonRpcCode(absl::string_view asap_code) {
  std::optional<ErrorCode> code = ParseErrorCode(asap_code);
  return code.has_value() ? BandCode(*code) : -32000;
}

DispatchErrorAnswer MapDispatchError(const absl::Status& status,
                                     const v1::Envelope& request,
                                     const ProtocolVersion& version,
                                     bool in_batch) {
  DispatchErrorAnswer answer;
  ErrorCode code = ErrorCodeOf(status).value_or(ErrorCode::kInternal);
  absl::string_view name = ErrorCodeName(code);
  absl::string_view detail = Detail(status, code);
  if (code == ErrorCode::kSenderMismatch ||
      code == ErrorCode::kUnauthenticated ||
      code == ErrorCode::kUnsupportedAuthScheme) {
    bool denied = code == ErrorCode::kSenderMismatch;
    answer.error =
        Error(denied ? kJsonRpcInvalidParams : kJsonRpcInvalidRequest,
              denied ? "Invalid params" : "Invalid Request",
              absl::StrCat("{\"error\":", JsonQuote(detail),
                           ",\"code\":", JsonQuote(name),
                           ",\"status_code\":", denied ? 403 : 401, "}"));
    return answer;
  }
  if (code == ErrorCode::kRateLimited) {
    // The limit that was exceeded: the detail reads "rate limit exceeded:
    // 10/s (limits 10/s,100/min)".
    absl::string_view limit = detail;
    if (size_t colon = limit.find(": "); colon != absl::string_view::npos) {
      limit.remove_prefix(colon + 2);
    }
    limit = limit.substr(0, limit.find(" ("));
    int64_t retry_after = std::max<int64_t>(
        1, RetryAfterSeconds(RetryAfterOf(status).value_or(absl::Seconds(1))));
    answer.error.code = 429;
    answer.error.message = "Rate limit exceeded";
    answer.error.data_json = absl::StrCat("{\"retry_after\":", retry_after,
                                          ",\"limit\":", JsonQuote(limit),
                                          ",\"code\":", JsonQuote(name), "}");
    if (!in_batch) {
      answer.http_status = 429;
      answer.http_body = JsonRpcErrorResponse(answer.error, "null");
      answer.http_headers.emplace_back("retry-after",
                                       absl::StrCat(retry_after));
    }
    return answer;
  }
  if (code == ErrorCode::kPayloadTooLarge && !in_batch) {
    answer.http_status = 413;
    answer.http_body = DetailBody(status.message());
    return answer;
  }
  if (IsOverload(code) && !in_batch) {
    answer.http_status = 503;
    answer.http_body = absl::StrCat(
        "{\"error\":\"Service Unavailable\",\"code\":", JsonQuote(name),
        ",\"message\":", JsonQuote(detail), "}");
    return answer;
  }
  std::string asap_data =
      absl::StrCat("{\"code\":", JsonQuote(name),
                   ",\"message\":", JsonQuote(detail), ",\"details\":{}}");
  if (version.is_v2()) {
    answer.error = Error(BandCode(code), std::string(detail), asap_data);
    return answer;
  }
  switch (code) {
    case ErrorCode::kMalformedEnvelope:
      answer.error =
          Error(kJsonRpcInvalidParams, "Invalid params",
                absl::StrCat(
                    "{\"error\":\"Invalid envelope\",\"validation_errors\":[",
                    JsonQuote(detail), "]}"));
      break;
    case ErrorCode::kInvalidTimestamp:
    case ErrorCode::kInvalidNonce:
      answer.error = Error(kJsonRpcInvalidParams, "Invalid params", asap_data);
      break;
    case ErrorCode::kHandlerNotFound:
      answer.error =
          Error(kJsonRpcMethodNotFound, "Method not found",
                absl::StrCat("{\"payload_type\":",
                             JsonQuote(request.payload_type().substr(0, 256)),
                             ",\"error\":", JsonQuote(detail), "}"));
      break;
    default:
      // A handler's own failure: the reference shows the caller no more.
      answer.error = Error(kJsonRpcInternalError, "Internal error",
                           "{\"error\":\"Internal server error\"}");
      if (in_batch &&
          (IsOverload(code) || code == ErrorCode::kPayloadTooLarge)) {
        answer.error.data_json = asap_data;
      }
      break;
  }
  return answer;
}

std::string JsonRpcErrorResponse(const JsonRpcError& error,
                                 absl::string_view id_json) {
  std::string out =
      absl::StrCat("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":", error.code,
                   ",\"message\":", JsonQuote(error.message));
  if (!error.data_json.empty())
    absl::StrAppend(&out, ",\"data\":", error.data_json);
  absl::StrAppend(&out, "},\"id\":", id_json, "}");
  return out;
}

std::string EnvelopeJsonFor(const v1::Envelope& envelope,
                            const ProtocolVersion& version) {
  std::string json;
  AppendEnvelopeJsonFor(envelope, version, &json);
  return json;
}

std::string JsonRpcResultResponse(const v1::Envelope& envelope,
                                  absl::string_view id_json,
                                  const ProtocolVersion& version) {
  std::string out = "{\"jsonrpc\":\"2.0\",\"result\":{\"envelope\":";
  AppendEnvelopeJsonFor(envelope, version, &out);
  absl::StrAppend(&out, "},\"id\":", id_json, "}");
  return out;
}

}  // namespace asap
