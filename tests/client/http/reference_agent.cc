#include "tests/client/http/reference_agent.h"

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/runfiles.h"

namespace asap::testing {
namespace {

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

std::unique_ptr<ReferenceAgent> ReferenceAgent::Start(
    const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      Runfile("tests/client/http/reference_agent.py"), "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<bench::ServerProcess>> process =
      bench::ServerProcess::Start("/usr/bin/python3", argv);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return nullptr;
  auto agent = std::unique_ptr<ReferenceAgent>(new ReferenceAgent());
  agent->url_ = absl::StrCat("http://", (*process)->address());
  agent->process_ = *std::move(process);
  return agent;
}

absl::StatusOr<std::string> ReferenceAgent::Control(absl::string_view method,
                                                    absl::string_view path,
                                                    absl::string_view body) {
  CURL* easy = curl_easy_init();
  const std::string url = absl::StrCat(url_, path);
  const std::string payload(body);
  std::string answer;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
  if (method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(payload.size()));
  }
  const CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(url, ": ", curl_easy_strerror(code)));
  }
  if (status != 200) {
    return absl::InternalError(absl::StrCat(url, ": HTTP ", status, answer));
  }
  return answer;
}

void ReferenceAgent::Fault(absl::string_view json) {
  absl::StatusOr<std::string> answer = Control("POST", "/_test/fault", json);
  EXPECT_TRUE(answer.ok()) << answer.status();
}

void ReferenceAgent::ResetStats() {
  absl::StatusOr<std::string> answer =
      Control("POST", "/_test/reset_stats", "{}");
  EXPECT_TRUE(answer.ok()) << answer.status();
}

int64_t ReferenceAgent::Stat(absl::string_view name) {
  absl::StatusOr<std::string> answer = Control("GET", "/_test/stats", "");
  if (!answer.ok()) return -1;
  rapidjson::Document stats;
  stats.Parse(answer->c_str());
  const std::string key(name);
  if (!stats.IsObject() || !stats.HasMember(key.c_str()) ||
      !stats[key.c_str()].IsInt64()) {
    return -1;
  }
  return stats[key.c_str()].GetInt64();
}

std::string ReferenceAgent::LastHeader(absl::string_view lower_case_name) {
  absl::StatusOr<std::string> answer = Control("GET", "/_test/stats", "");
  if (!answer.ok()) return "";
  rapidjson::Document stats;
  stats.Parse(answer->c_str());
  const std::string key(lower_case_name);
  if (!stats.IsObject() || !stats.HasMember("headers_seen")) return "";
  const rapidjson::Value& headers = stats["headers_seen"];
  if (!headers.IsObject() || !headers.HasMember(key.c_str()) ||
      !headers[key.c_str()].IsString()) {
    return "";
  }
  return headers[key.c_str()].GetString();
}

}  // namespace asap::testing
