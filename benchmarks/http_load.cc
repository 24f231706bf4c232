#include "benchmarks/http_load.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asap::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// How often the watchdog looks for requests older than request_timeout.
constexpr auto kWatchdogPeriod = std::chrono::milliseconds(250);
// Pause before reconnecting after a connection failed, so a dead server does
// not turn into a busy loop of errors.
constexpr auto kReconnectDelay = std::chrono::milliseconds(20);
// Bytes of a failing answer's body kept in LoadResult::first_error.
constexpr size_t kErrorBodyBytes = 300;

std::string Clip(absl::string_view text) {
  if (text.size() <= kErrorBodyBytes) return std::string(text);
  return absl::StrCat(text.substr(0, kErrorBodyBytes), "...");
}

// Checks an answer; on failure records it and returns false.
bool CheckAnswer(LoadRecorder& recorder, int status, absl::string_view body,
                 absl::Time start, absl::Time end) {
  if (IsJsonRpcResult(status, body)) {
    recorder.Ok(start, end);
    return true;
  }
  std::string kind =
      status != 200 ? absl::StrCat("http ", status) : "no result";
  recorder.Error(kind, absl::StrCat(kind, ": ", Clip(body)));
  return false;
}

// ---------------------------------------------------------------------------
// HTTP/1.1: one object per keep-alive connection; one request at a time.

struct Http1Shared {
  asio::io_context& io;
  const HttpLoadOptions& options;
  LoadRecorder& recorder;
  tcp::endpoint endpoint;
  int64_t next_id = 0;
  int active = 0;  // connections that have not stopped
};

class Http1Connection : public std::enable_shared_from_this<Http1Connection> {
 public:
  explicit Http1Connection(Http1Shared* shared)
      : shared_(shared), socket_(shared->io), retry_timer_(shared->io) {
    request_.method(http::verb::post);
    request_.target(shared->options.path);
    request_.version(11);
    request_.set(http::field::host,
                 absl::StrCat(shared->options.host, ":", shared->options.port));
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
  }

  void Start() {
    ++shared_->active;
    Connect();
  }

  // Called by the watchdog: fails the request in flight when it is too old.
  void CheckTimeout(absl::Time now) {
    if (in_flight_ && now - start_ > shared_->options.request_timeout) {
      timed_out_ = true;
      beast::error_code ignored;
      socket_.close(ignored);
    }
  }

 private:
  void Connect() {
    if (!shared_->recorder.Accepting(absl::Now())) return Stop();
    beast::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
    socket_.async_connect(
        shared_->endpoint, [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->Fail("connect", ec);
          beast::error_code ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->Next();
        });
  }

  void Next() {
    absl::Time now = absl::Now();
    if (!shared_->recorder.Accepting(now)) return Stop();
    request_.body() =
        JsonRpcSendBody(shared_->options.envelope_json, ++shared_->next_id);
    request_.prepare_payload();
    start_ = now;
    in_flight_ = true;
    timed_out_ = false;
    http::async_write(
        socket_, request_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Fail("write", ec);
          self->Read();
        });
  }

  void Read() {
    response_ = {};
    http::async_read(
        socket_, buffer_, response_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Fail("read", ec);
          self->in_flight_ = false;
          CheckAnswer(self->shared_->recorder, self->response_.result_int(),
                      self->response_.body(), self->start_, absl::Now());
          if (!self->response_.keep_alive()) return self->Connect();
          self->Next();
        });
  }

  void Fail(absl::string_view what, const beast::error_code& ec) {
    std::string kind = timed_out_ ? std::string("timeout")
                                  : absl::StrCat(what, ": ", ec.message());
    in_flight_ = false;
    timed_out_ = false;
    shared_->recorder.Error(kind, kind);
    beast::error_code ignored;
    socket_.close(ignored);
    if (!shared_->recorder.Accepting(absl::Now())) return Stop();
    retry_timer_.expires_after(kReconnectDelay);
    retry_timer_.async_wait(
        [self = shared_from_this()](beast::error_code) { self->Connect(); });
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    --shared_->active;
  }

  Http1Shared* shared_;
  tcp::socket socket_;
  asio::steady_timer retry_timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  absl::Time start_;
  bool in_flight_ = false;
  bool timed_out_ = false;
  bool stopped_ = false;
};

// ---------------------------------------------------------------------------
// h2c: one connection, `streams` requests in flight, each finished stream
// replaced by a new one until the window ends.

class H2cClient {
 public:
  H2cClient(asio::io_context& io, const HttpLoadOptions& options,
            LoadRecorder& recorder)
      : options_(options),
        recorder_(recorder),
        socket_(io),
        watchdog_(io),
        authority_(absl::StrCat(options.host, ":", options.port)) {}

  ~H2cClient() {
    if (session_ != nullptr) nghttp2_session_del(session_);
  }

  void Start(const tcp::endpoint& endpoint) {
    socket_.async_connect(endpoint, [this](beast::error_code ec) {
      if (ec) {
        recorder_.Error(absl::StrCat("connect: ", ec.message()), ec.message());
        return;
      }
      beast::error_code ignored;
      socket_.set_option(tcp::no_delay(true), ignored);
      if (!OpenSession()) return;
      for (int i = 0; i < options_.streams; ++i) {
        if (!Submit()) break;
      }
      Flush();
      Read();
      Watch();
    });
  }

 private:
  struct Stream {
    std::string request_body;
    size_t sent = 0;
    absl::Time start;
    int status = 0;
    std::string body;
    bool timed_out = false;
  };

  bool OpenSession() {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                              OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks,
                                                           OnStreamClose);
    int rv = nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) return Fatal("nghttp2_session_client_new", rv);
    // The preface goes out with the first flush; the answers are small, but
    // a large connection window keeps WINDOW_UPDATEs rare.
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                                 std::size(settings));
    if (rv != 0) return Fatal("nghttp2_submit_settings", rv);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          16 << 20);
    return true;
  }

  bool Fatal(absl::string_view what, int rv) {
    recorder_.Error(absl::StrCat(what, ": ", nghttp2_strerror(rv)),
                    nghttp2_strerror(rv));
    Close();
    return false;
  }

  // Starts one request; false when the window has ended or nghttp2 refused.
  bool Submit() {
    absl::Time now = absl::Now();
    if (!recorder_.Accepting(now)) return false;
    auto stream = std::make_unique<Stream>();
    stream->request_body = JsonRpcSendBody(options_.envelope_json, ++next_id_);
    stream->start = now;
    std::string length = std::to_string(stream->request_body.size());
    auto header = [](absl::string_view name, absl::string_view value) {
      return nghttp2_nv{
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())),
          name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    nghttp2_nv headers[] = {
        header(":method", "POST"),
        header(":scheme", "http"),
        header(":authority", authority_),
        header(":path", options_.path),
        header("content-type", "application/json"),
        header("content-length", length),
    };
    nghttp2_data_provider provider;
    provider.source.ptr = stream.get();
    provider.read_callback = ReadRequestBody;
    int32_t id =
        nghttp2_submit_request(session_, nullptr, headers, std::size(headers),
                               &provider, stream.get());
    if (id < 0) {
      recorder_.Error(absl::StrCat("submit: ", nghttp2_strerror(id)),
                      nghttp2_strerror(id));
      return false;
    }
    streams_[id] = std::move(stream);
    return true;
  }

  static ssize_t ReadRequestBody(nghttp2_session*, int32_t, uint8_t* buf,
                                 size_t length, uint32_t* data_flags,
                                 nghttp2_data_source* source, void*) {
    auto* stream = static_cast<Stream*>(source->ptr);
    size_t n = std::min(length, stream->request_body.size() - stream->sent);
    std::memcpy(buf, stream->request_body.data() + stream->sent, n);
    stream->sent += n;
    if (stream->sent == stream->request_body.size()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                      const uint8_t* name, size_t name_length,
                      const uint8_t* value, size_t value_length, uint8_t,
                      void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto* stream = static_cast<Stream*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr) return 0;
    absl::string_view header(reinterpret_cast<const char*>(name), name_length);
    if (header == ":status") {
      int status = 0;
      if (absl::SimpleAtoi(
              absl::string_view(reinterpret_cast<const char*>(value),
                                value_length),
              &status)) {
        stream->status = status;
      }
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                         const uint8_t* data, size_t length, void*) {
    auto* stream = static_cast<Stream*>(
        nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream != nullptr) {
      stream->body.append(reinterpret_cast<const char*>(data), length);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id,
                           uint32_t error_code, void* user_data) {
    auto* self = static_cast<H2cClient*>(user_data);
    auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end()) return 0;
    std::unique_ptr<Stream> stream = std::move(it->second);
    self->streams_.erase(it);
    absl::Time end = absl::Now();
    if (stream->timed_out) {
      self->recorder_.Error("timeout", "timeout (stream reset by the client)");
    } else if (error_code != NGHTTP2_NO_ERROR) {
      std::string kind =
          absl::StrCat("stream reset: ", nghttp2_http2_strerror(error_code));
      self->recorder_.Error(kind, kind);
    } else {
      CheckAnswer(self->recorder_, stream->status, stream->body, stream->start,
                  end);
    }
    self->Submit();
    return 0;
  }

  void Flush() {
    if (writing_ || closed_) return;
    while (true) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        Fatal("nghttp2_session_mem_send", static_cast<int>(n));
        return;
      }
      if (n == 0) break;
      write_buffer_.append(reinterpret_cast<const char*>(data), n);
    }
    if (write_buffer_.empty()) {
      MaybeFinish();
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(write_buffer_),
                      [this](beast::error_code ec, size_t) {
                        writing_ = false;
                        write_buffer_.clear();
                        if (ec) return ConnectionLost("write", ec);
                        Flush();
                      });
  }

  void Read() {
    socket_.async_read_some(
        asio::buffer(read_buffer_), [this](beast::error_code ec, size_t n) {
          if (closed_) return;
          if (ec) return ConnectionLost("read", ec);
          ssize_t rv = nghttp2_session_mem_recv(
              session_, reinterpret_cast<const uint8_t*>(read_buffer_.data()),
              n);
          if (rv < 0) {
            Fatal("nghttp2_session_mem_recv", static_cast<int>(rv));
            return;
          }
          Flush();
          if (!closed_) Read();
        });
  }

  // Every request still open fails with the connection.
  void ConnectionLost(absl::string_view what, const beast::error_code& ec) {
    if (closed_) return;
    std::string kind = absl::StrCat("connection ", what, ": ", ec.message());
    for (size_t i = 0; i < streams_.size(); ++i) recorder_.Error(kind, kind);
    streams_.clear();
    Close();
  }

  // Done once the window has ended and every stream is answered.
  void MaybeFinish() {
    if (streams_.empty() && !recorder_.Accepting(absl::Now())) {
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n > 0) {
        beast::error_code ignored;
        asio::write(socket_, asio::buffer(data, n), ignored);
      }
      Close();
    }
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    watchdog_.cancel();
  }

  void Watch() {
    watchdog_.expires_after(kWatchdogPeriod);
    watchdog_.async_wait([this](beast::error_code ec) {
      if (ec || closed_) return;
      absl::Time now = absl::Now();
      for (auto& [id, stream] : streams_) {
        if (!stream->timed_out &&
            now - stream->start > options_.request_timeout) {
          stream->timed_out = true;
          nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id,
                                    NGHTTP2_CANCEL);
        }
      }
      Flush();
      Watch();
    });
  }

  const HttpLoadOptions& options_;
  LoadRecorder& recorder_;
  tcp::socket socket_;
  asio::steady_timer watchdog_;
  const std::string authority_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::array<char, 64 * 1024> read_buffer_;
  std::string write_buffer_;
  bool writing_ = false;
  bool closed_ = false;
  int64_t next_id_ = 0;
};

tcp::endpoint Endpoint(const HttpLoadOptions& options) {
  return tcp::endpoint(asio::ip::make_address(options.host),
                       static_cast<unsigned short>(options.port));
}

}  // namespace

double LoadResult::PerSecond() const {
  double seconds = absl::ToDoubleSeconds(window);
  return seconds > 0 ? ok / seconds : 0;
}

std::string LoadResult::ErrorKindsText() const {
  std::string text;
  for (const auto& [kind, n] : error_kinds) {
    absl::StrAppend(&text, text.empty() ? "" : ", ", kind, " x", n);
  }
  return text;
}

LoadRecorder::LoadRecorder(absl::Duration warmup, absl::Duration window)
    : measure_from_(absl::Now() + warmup), stop_(measure_from_ + window) {
  result_.window = window;
}

void LoadRecorder::Ok(absl::Time start, absl::Time end) {
  absl::MutexLock lock(&mu_);
  ++result_.completed;
  if (end >= measure_from_ && end <= stop_) {
    ++result_.ok;
    result_.latencies.push_back(end - start);
  }
}

void LoadRecorder::Error(absl::string_view kind, absl::string_view detail) {
  absl::MutexLock lock(&mu_);
  ++result_.completed;
  ++result_.errors;
  ++result_.error_kinds[std::string(kind)];
  if (result_.first_error.empty()) result_.first_error = std::string(detail);
}

LoadResult LoadRecorder::Finish() {
  absl::MutexLock lock(&mu_);
  return std::move(result_);
}

LoadResult RunHttp1Load(const HttpLoadOptions& options) {
  asio::io_context io(1);
  LoadRecorder recorder(options.warmup, options.window);
  Http1Shared shared{io, options, recorder, Endpoint(options)};
  std::vector<std::shared_ptr<Http1Connection>> connections;
  for (int i = 0; i < options.connections; ++i) {
    connections.push_back(std::make_shared<Http1Connection>(&shared));
    connections.back()->Start();
  }
  asio::steady_timer watchdog(io);
  std::function<void()> watch = [&] {
    watchdog.expires_after(kWatchdogPeriod);
    watchdog.async_wait([&](beast::error_code ec) {
      if (ec || shared.active == 0) return;
      absl::Time now = absl::Now();
      for (auto& connection : connections) connection->CheckTimeout(now);
      watch();
    });
  };
  watch();
  io.run();
  return recorder.Finish();
}

LoadResult RunH2cLoad(const HttpLoadOptions& options) {
  asio::io_context io(1);
  LoadRecorder recorder(options.warmup, options.window);
  {
    H2cClient client(io, options, recorder);
    client.Start(Endpoint(options));
    io.run();
  }
  return recorder.Finish();
}

std::string JsonRpcSendBody(absl::string_view envelope_json, int64_t id) {
  return absl::StrCat(R"({"jsonrpc":"2.0","method":"asap.send","id":)", id,
                      R"(,"params":{"envelope":)", envelope_json, "}}");
}

bool IsJsonRpcResult(int http_status, absl::string_view body) {
  return http_status == 200 &&
         body.find(R"("result")") != absl::string_view::npos;
}

std::string CheckOnePost(const std::string& host, int port,
                         const std::string& path, const std::string& body) {
  try {
    asio::io_context io(1);
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address(host),
                                 static_cast<unsigned short>(port)));
    http::request<http::string_body> request(http::verb::post, path, 11);
    request.set(http::field::host, absl::StrCat(host, ":", port));
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    http::write(socket, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    if (IsJsonRpcResult(response.result_int(), response.body())) return "";
    return absl::StrCat("HTTP ", response.result_int(), ": ",
                        Clip(response.body()));
  } catch (const std::exception& e) {
    return e.what();
  }
}

double PercentileUs(std::vector<absl::Duration> samples, double p) {
  if (samples.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * (samples.size() - 1) + 0.5);
  std::nth_element(samples.begin(), samples.begin() + index, samples.end());
  return absl::ToDoubleMicroseconds(samples[index]);
}

}  // namespace asap::bench
