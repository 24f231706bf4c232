// HttpListener end to end on 127.0.0.1:0: HTTP/1.1 through Boost.Beast and
// raw sockets, h2c through an nghttp2 client session, against a small
// HttpApplication that answers now, later from another thread, or streams.
#include "server/http/http_listener.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/wait_until.h"

namespace asap {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

constexpr absl::Duration kTestTimeout = absl::Seconds(10);

// The head of a chunked POST /echo over HTTP/1.1; the chunks follow.
constexpr char kChunkedPostHead[] =
    "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string ToString(beast::string_view view) {
  return std::string(view.data(), view.size());
}

// Runs jobs on a thread of its own: the application answering "later, from
// another thread".
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  void Run(std::function<void()> job) {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(std::move(job));
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Worker* w) { return w->stop_ || !w->jobs_.empty(); }, this));
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Paths:
//   /echo          the body back, with what the transport saw in headers
//   /fixed         "hello world"
//   /delayed/MS    /echo answered MS milliseconds later from the worker
//   /stream/N      N server-sent events from the worker
//   /gated         one event, then (once Open()) a second, then the end
//   /flood         writes 16 KiB pieces until Write returns false
//   /hold          kept unanswered (Held)
//   /drop          the exchange dropped unanswered
class TestApp final : public HttpApplication {
 public:
  void Handle(HttpRequest request,
              std::shared_ptr<HttpExchange> exchange) override {
    std::string path(request.path());
    int number = 0;
    if (path == "/echo") {
      exchange->Respond(Echo(request));
    } else if (path == "/fixed") {
      exchange->Respond({200, {{"Content-Type", "text/plain"}}, "hello world"});
    } else if (absl::StartsWith(path, "/delayed/") &&
               absl::SimpleAtoi(path.substr(9), &number)) {
      worker_.Run([number, request = std::move(request), exchange] {
        absl::SleepFor(absl::Milliseconds(number));
        exchange->Respond(Echo(request));
      });
    } else if (absl::StartsWith(path, "/stream/") &&
               absl::SimpleAtoi(path.substr(8), &number)) {
      worker_.Run([number, exchange] {
        exchange->StartStream(200, {{"content-type", "text/event-stream"}});
        for (int i = 0; i < number; ++i) {
          exchange->Write(absl::StrCat("data: ", i, "\n\n"));
        }
        exchange->Finish();
      });
    } else if (path == "/gated") {
      worker_.Run([this, exchange] {
        exchange->StartStream(200, {{"content-type", "text/event-stream"}});
        exchange->Write("data: first\n\n");
        gate_.WaitForNotificationWithTimeout(kTestTimeout);
        exchange->Write("data: last\n\n");
        exchange->Finish();
      });
    } else if (path == "/flood") {
      worker_.Run([this, exchange] {
        exchange->StartStream(200, {{"content-type", "text/event-stream"}});
        std::string piece(16 * 1024, 'x');
        bool accepted = true;
        for (int i = 0; i < 100000 && accepted; ++i) {
          accepted = exchange->Write(piece);
        }
        absl::MutexLock lock(&mu_);
        flood_write_failed_ = !accepted;
        flood_cancelled_ = exchange->IsCancelled();
        flood_done_ = true;
      });
    } else if (path == "/hold") {
      absl::MutexLock lock(&mu_);
      held_.push_back(exchange);
    } else if (path == "/drop") {
      // Dropping the exchange unanswered: the transport answers 500.
    } else {
      exchange->Respond({404, {}, "not found"});
    }
  }

  static HttpResponse Echo(const HttpRequest& request) {
    HttpResponse response;
    response.headers = {
        {"Content-Type", "text/plain"},
        {"x-method", request.method},
        {"x-http2", request.http2 ? "1" : "0"},
        {"x-peer", request.peer},
        {"x-custom", std::string(request.header("x-custom").value_or(""))},
    };
    response.body = request.body;
    return response;
  }

  void OpenGate() { gate_.Notify(); }

  size_t HeldCount() {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }

  // The index-th exchange kept by /hold, once it arrives.
  std::shared_ptr<HttpExchange> Held(size_t index) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return held_.size() > index;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), kTestTimeout)) {
      return nullptr;
    }
    return held_[index];
  }

  // Whether the /flood writer saw Write return false; nullopt if it has not
  // finished.
  std::optional<bool> FloodWriteFailed() {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&flood_done_), kTestTimeout)) {
      return std::nullopt;
    }
    return flood_write_failed_;
  }
  bool FloodCancelled() {
    absl::MutexLock lock(&mu_);
    return flood_cancelled_;
  }

  // Releases held exchanges (before the listener in the fixture's order).
  void ReleaseHeld() {
    absl::MutexLock lock(&mu_);
    held_.clear();
  }

 private:
  absl::Notification gate_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<HttpExchange>> held_ ABSL_GUARDED_BY(mu_);
  bool flood_done_ ABSL_GUARDED_BY(mu_) = false;
  bool flood_write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool flood_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // Last: joined first, while the members its jobs use still exist.
  Worker worker_;
};

using Response = http::response<http::string_body>;

// A blocking HTTP/1.1 client; every read gives up after kTestTimeout.
class Http1Client {
 public:
  explicit Http1Client(int port, std::optional<int> receive_buffer = {})
      : socket_(io_) {
    socket_.open(tcp::v4());
    if (receive_buffer.has_value()) {
      socket_.set_option(asio::socket_base::receive_buffer_size(
          static_cast<int>(*receive_buffer)));
    }
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(),
                                  static_cast<unsigned short>(port)));
  }

  // Sends raw bytes; false if the server closed the connection.
  bool Send(absl::string_view bytes) {
    boost::system::error_code error;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), error);
    return !error;
  }

  // Reads one whole response; nullopt on EOF, error or timeout.
  std::optional<Response> Read(bool head_request = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head_request);
    parser.body_limit(boost::none);
    boost::system::error_code error = Run([&](auto handler) {
      http::async_read(socket_, buffer_, parser, std::move(handler));
    });
    if (error) return std::nullopt;
    return parser.release();
  }

  // Reads a response's head into `parser`.
  bool ReadHeader(http::response_parser<http::string_body>& parser) {
    return !Run([&](auto handler) {
      http::async_read_header(socket_, buffer_, parser, std::move(handler));
    });
  }
  // Reads more of a response body into `parser`.
  bool ReadSome(http::response_parser<http::string_body>& parser) {
    return !Run([&](auto handler) {
      http::async_read_some(socket_, buffer_, parser, std::move(handler));
    });
  }

  // Reads raw bytes up to and including `delimiter`; for answers after
  // which the server sends nothing until the client does (100 Continue).
  std::optional<std::string> ReadUntil(const std::string& delimiter) {
    std::string bytes;
    boost::system::error_code error = Run([&](auto handler) {
      asio::async_read_until(socket_, asio::dynamic_buffer(bytes), delimiter,
                             std::move(handler));
    });
    if (error || bytes.size() != bytes.find(delimiter) + delimiter.size()) {
      return std::nullopt;
    }
    return bytes;
  }

  // Reads and drops everything until the server closes the connection; true
  // if it did within kTestTimeout.
  bool WaitForClose() {
    absl::Time deadline = absl::Now() + kTestTimeout;
    buffer_.clear();
    for (;;) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      boost::system::error_code error = Run(
          [&](auto handler) {
            socket_.async_read_some(buffer_.prepare(4096), std::move(handler));
          },
          left);
      if (error == asio::error::timed_out) return false;
      if (error) return true;  // EOF or reset
      buffer_.clear();
    }
  }

  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  template <typename Initiate>
  boost::system::error_code Run(Initiate initiate,
                                absl::Duration timeout = kTestTimeout) {
    boost::system::error_code result;
    bool done = false;
    initiate([&](boost::system::error_code error, size_t) {
      result = error;
      done = true;
    });
    io_.restart();
    io_.run_for(absl::ToChronoMilliseconds(timeout));
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return asio::error::timed_out;
    }
    return result;
  }

  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string Get(absl::string_view path, absl::string_view extra = "") {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n", extra,
                      "\r\n");
}

std::string Post(absl::string_view path, absl::string_view body,
                 absl::string_view extra = "") {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: test\r\n",
                      "Content-Length: ", body.size(), "\r\n", extra, "\r\n",
                      body);
}

// An h2c client (prior knowledge) on nghttp2's client session over a
// blocking socket; every wait gives up after kTestTimeout.
class H2Client {
 public:
  struct Stream {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
    bool closed = false;
    uint32_t error_code = 0;
  };

  explicit H2Client(int port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(),
                                  static_cast<unsigned short>(port)));
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                              &OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks,
                                                           &OnStreamClose);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Client() { nghttp2_session_del(session_); }

  int32_t Submit(const std::string& method, const std::string& path,
                 std::optional<std::string> body = std::nullopt,
                 std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method},
        {":path", path},
        {":scheme", "http"},
        {":authority", "test"}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [name, value] : fields) {
      nv.push_back({reinterpret_cast<uint8_t*>(name.data()),
                    reinterpret_cast<uint8_t*>(value.data()), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider;
    if (body.has_value() && body->empty() && open_body_next_) {
      // A body that never comes: DATA is deferred for ever.
      open_body_next_ = false;
      provider.source.ptr = nullptr;
      provider.read_callback = [](nghttp2_session*, int32_t, uint8_t*, size_t,
                                  uint32_t*, nghttp2_data_source*,
                                  void*) -> ssize_t {
        return NGHTTP2_ERR_DEFERRED;
      };
    } else if (body.has_value()) {
      uploads_.push_back(std::make_unique<Upload>(
          Upload{std::move(*body), 0, !keep_upload_open_next_}));
      keep_upload_open_next_ = false;
      provider.source.ptr = uploads_.back().get();
      provider.read_callback = &ReadUpload;
    }
    int32_t id =
        nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                               body.has_value() ? &provider : nullptr, nullptr);
    if (body.has_value() && provider.source.ptr != nullptr) {
      open_uploads_[id] = uploads_.back().get();
    }
    streams_[id];
    return id;
  }

  // Submits a request whose body starts with `initial` and continues with
  // Append: the stream stays open (without END_STREAM) until the last part.
  int32_t SubmitOpen(const std::string& method, const std::string& path,
                     std::string initial,
                     std::vector<std::pair<std::string, std::string>> extra) {
    keep_upload_open_next_ = true;
    return Submit(method, path, std::move(initial), std::move(extra));
  }
  // More of a SubmitOpen body; sent by the next Run* call.
  void Append(int32_t id, absl::string_view data, bool last) {
    Upload* upload = open_uploads_.at(id);
    upload->data.append(data.data(), data.size());
    upload->last = last;
    nghttp2_session_resume_data(session_, id);
  }
  // Resets stream `id` (RST_STREAM CANCEL); sent by the next Run* call.
  void Reset(int32_t id) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }

  // Exchanges frames with the server until `done` holds; false if the
  // connection ended or kTestTimeout passed first.
  bool RunUntil(const std::function<bool()>& done) {
    absl::Time deadline = absl::Now() + kTestTimeout;
    int fd = socket_.native_handle();
    while (!done()) {
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
        if (::send(fd, data, n, MSG_NOSIGNAL) != n) return false;
      }
      if (done()) break;
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration() || connection_closed_) return false;
      pollfd poll_fd{fd, POLLIN, 0};
      int wait_ms = static_cast<int>(
          std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 50));
      if (::poll(&poll_fd, 1, wait_ms) <= 0) continue;
      uint8_t buffer[16384];
      ssize_t received = ::recv(fd, buffer, sizeof(buffer), 0);
      if (received <= 0) {
        connection_closed_ = true;
        continue;
      }
      if (nghttp2_session_mem_recv(session_, buffer, received) < 0) {
        connection_closed_ = true;
      }
    }
    return true;
  }

  bool RunUntilClosed(int32_t id) {
    return RunUntil([this, id] { return streams_[id].closed; });
  }
  bool RunUntilAllClosed(const std::vector<int32_t>& ids) {
    return RunUntil([&] {
      for (int32_t id : ids) {
        if (!streams_[id].closed) return false;
      }
      return true;
    });
  }

  // The next Submit with an empty body sends its headers without
  // END_STREAM and then never sends the body.
  void OpenBodyForNextSubmit() { open_body_next_ = true; }

  const Stream& stream(int32_t id) { return streams_[id]; }
  bool connection_closed() const { return connection_closed_; }
  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  struct Upload {
    std::string data;
    size_t offset = 0;
    bool last = true;  // nothing is appended to `data` any more
  };

  static ssize_t ReadUpload(nghttp2_session*, int32_t, uint8_t* buffer,
                            size_t length, uint32_t* flags,
                            nghttp2_data_source* source, void*) {
    Upload* upload = static_cast<Upload*>(source->ptr);
    size_t n = std::min(length, upload->data.size() - upload->offset);
    std::memcpy(buffer, upload->data.data() + upload->offset, n);
    upload->offset += n;
    if (upload->offset == upload->data.size()) {
      if (upload->last) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      } else if (n == 0) {
        return NGHTTP2_ERR_DEFERRED;  // until Append
      }
    }
    return static_cast<ssize_t>(n);
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame,
                      const uint8_t* name, size_t name_length,
                      const uint8_t* value, size_t value_length, uint8_t,
                      void* user_data) {
    auto* self = static_cast<H2Client*>(user_data);
    Stream& stream = self->streams_[frame->hd.stream_id];
    std::string key(reinterpret_cast<const char*>(name), name_length);
    std::string text(reinterpret_cast<const char*>(value), value_length);
    if (key == ":status") {
      absl::SimpleAtoi(text, &stream.status);
    } else {
      stream.headers[key] = text;
    }
    return 0;
  }

  static int OnData(nghttp2_session*, uint8_t, int32_t stream_id,
                    const uint8_t* data, size_t length, void* user_data) {
    auto* self = static_cast<H2Client*>(user_data);
    self->streams_[stream_id].body.append(reinterpret_cast<const char*>(data),
                                          length);
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id,
                           uint32_t error_code, void* user_data) {
    auto* self = static_cast<H2Client*>(user_data);
    Stream& stream = self->streams_[stream_id];
    stream.closed = true;
    stream.error_code = error_code;
    return 0;
  }

  asio::io_context io_;
  tcp::socket socket_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;
  std::vector<std::unique_ptr<Upload>> uploads_;
  std::map<int32_t, Upload*> open_uploads_;  // by stream, for Append
  bool connection_closed_ = false;
  bool open_body_next_ = false;
  bool keep_upload_open_next_ = false;
};

class HttpListenerTest : public ::testing::Test {
 protected:
  void StartListener(HttpListenerOptions options = {}) {
    options.address = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<HttpListener>> listener =
        HttpListener::Start(options, &app_);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    port_ = listener_->port();
  }

  void TearDown() override {
    if (listener_ != nullptr) {
      // Whatever a test left behind (clients gone mid-body, exchanges held),
      // every request body's bytes go back to the budget once the clients
      // are gone and the held exchanges dropped.
      app_.ReleaseHeld();
      EXPECT_TRUE(AwaitBodyBytes(0))
          << listener_->stats().body_bytes_buffered << " bytes still counted";
    }
    listener_.reset();
    app_.ReleaseHeld();
  }

  // Waits until stats().body_bytes_buffered is `expected`; false after
  // kTestTimeout. Polls: nothing signals the server's reading or releasing.
  bool AwaitBodyBytes(uint64_t expected) {
    return testing::WaitUntil(
        [&] { return listener_->stats().body_bytes_buffered == expected; },
        kTestTimeout);
  }

  // Expects `requests` served, `refused` refused as busy, and no body bytes
  // counted any more.
  void ExpectBudgetStats(uint64_t requests, uint64_t refused) {
    HttpListener::Stats stats = listener_->stats();
    EXPECT_EQ(stats.requests, requests);
    EXPECT_EQ(stats.requests_refused_busy, refused);
    EXPECT_EQ(stats.body_bytes_buffered, 0u);
  }

  // Declared first: destroyed after the listener.
  TestApp app_;
  std::unique_ptr<HttpListener> listener_;
  int port_ = 0;
};

TEST_F(HttpListenerTest, StartRejectsMalformedAddress) {
  HttpListenerOptions options;
  options.address = "127.0.0.1";
  EXPECT_FALSE(HttpListener::Start(options, &app_).ok());
  options.address = "not-an-ip:0";
  EXPECT_FALSE(HttpListener::Start(options, &app_).ok());
}

TEST_F(HttpListenerTest, ReportsBoundPort) {
  StartListener();
  EXPECT_GT(listener_->port(), 0);
  EXPECT_EQ(listener_->address(), absl::StrCat("127.0.0.1:", port_));
}

TEST_F(HttpListenerTest, Http1KeepAliveServesSeveralRequestsOnOneConnection) {
  StartListener();
  Http1Client client(port_);
  for (int i = 0; i < 3; ++i) {
    std::string body = absl::StrCat("request ", i);
    ASSERT_TRUE(client.Send(Post("/echo", body, "X-Custom: seen\r\n")));
    std::optional<Response> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_EQ(response->body(), body);
    EXPECT_EQ(ToString((*response)["Server"]), "asap");
    EXPECT_EQ(ToString((*response)["Content-Length"]),
              absl::StrCat(body.size()));
    EXPECT_EQ(ToString((*response)["x-http2"]), "0");
    EXPECT_EQ(ToString((*response)["x-method"]), "POST");
    // Header names reach the application in lower case.
    EXPECT_EQ(ToString((*response)["x-custom"]), "seen");
    EXPECT_TRUE(
        absl::StartsWith(ToString((*response)["x-peer"]), "ipv4:127.0.0.1:"));
    EXPECT_TRUE(response->keep_alive());
  }
  HttpListener::Stats stats = listener_->stats();
  EXPECT_EQ(stats.connections_accepted, 1u);
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(stats.http2_connections, 0u);
}

TEST_F(HttpListenerTest, Http1PipelinedRequestsAreAnsweredInOrder) {
  StartListener();
  Http1Client client(port_);
  // The first answer comes late from another thread; the others at once.
  ASSERT_TRUE(client.Send(absl::StrCat(Post("/delayed/100", "first"),
                                       Post("/echo", "second"),
                                       Post("/delayed/1", "third"))));
  for (const char* expected : {"first", "second", "third"}) {
    std::optional<Response> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body(), expected);
  }
}

TEST_F(HttpListenerTest, Http1ConnectionCloseIsHonoured) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(Get("/fixed", "Connection: close\r\n")));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "hello world");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpListenerTest, Http10IsAnsweredAndClosed) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send("GET /fixed HTTP/1.0\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->version(), 10u);
  EXPECT_EQ(response->body(), "hello world");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpListenerTest, Http1ExpectContinueGetsContinueBeforeBody) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(
      client.Send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  std::optional<std::string> interim = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(interim.has_value());
  EXPECT_TRUE(absl::StartsWith(*interim, "HTTP/1.1 100 Continue"));
  ASSERT_TRUE(client.Send("hello"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body(), "hello");
}

TEST_F(HttpListenerTest, Http1ChunkedRequestBodyIsReassembled) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(absl::StrCat(
      kChunkedPostHead, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "hello world");
}

TEST_F(HttpListenerTest, Http1DeclaredBodyOverLimitGets413AndClose) {
  HttpListenerOptions options;
  options.max_body_bytes = 1000;
  StartListener(options);
  Http1Client client(port_);
  // Only the head is sent: the answer must not wait for the body.
  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 2000\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 413);
  EXPECT_EQ(ToString((*response)["Content-Type"]), "application/json");
  EXPECT_EQ(response->body(),
            "{\"detail\":\"Request body too large: 2000 bytes (limit 1000)\"}");
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpListenerTest, Http1ChunkedBodyOverLimitGets413AndClose) {
  HttpListenerOptions options;
  options.max_body_bytes = 1000;
  StartListener(options);
  Http1Client client(port_);
  std::string chunk(800, 'x');
  ASSERT_TRUE(client.Send(absl::StrCat(kChunkedPostHead, "320\r\n", chunk,
                                       "\r\n", "320\r\n", chunk, "\r\n")));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 413);
  EXPECT_EQ(response->body(),
            "{\"detail\":\"Request body too large: more than 1000 bytes "
            "(limit 1000)\"}");
  EXPECT_TRUE(client.WaitForClose());
}

constexpr absl::string_view kBusyBody =
    "{\"error\":\"Service Unavailable\","
    "\"code\":\"asap:transport/resource_exhausted\","
    "\"message\":\"server busy: request bodies in flight at their limit\"}";

std::string PostHead(absl::string_view path, size_t content_length) {
  return absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: test\r\n",
                      "Content-Length: ", content_length, "\r\n\r\n");
}

void ExpectBusy(const std::optional<Response>& response) {
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 503);
  EXPECT_EQ(ToString((*response)["Content-Type"]), "application/json");
  EXPECT_EQ(ToString((*response)["Retry-After"]), "1");
  EXPECT_EQ(response->body(), kBusyBody);
  EXPECT_FALSE(response->keep_alive());
}

void ExpectBusy(const H2Client::Stream& stream) {
  EXPECT_TRUE(stream.closed);
  EXPECT_EQ(stream.status, 503);
  EXPECT_EQ(stream.headers.count("content-type") != 0
                ? stream.headers.at("content-type")
                : "",
            "application/json");
  EXPECT_EQ(stream.headers.count("retry-after") != 0
                ? stream.headers.at("retry-after")
                : "",
            "1");
  EXPECT_EQ(stream.body, kBusyBody);
  EXPECT_EQ(stream.error_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
}

HttpListenerOptions BodyBudgetOptions() {
  HttpListenerOptions options;
  options.max_buffered_body_bytes = 1 << 20;
  return options;
}

constexpr size_t kKiB = 1024;

TEST_F(HttpListenerTest, Http1DeclaredBodyBeyondBufferedLimitGets503) {
  StartListener(BodyBudgetOptions());
  const std::string big(800 * kKiB, 'a');
  // The first body is declared whole and trickled: it holds 800 KiB.
  Http1Client first(port_);
  ASSERT_TRUE(first.Send(
      absl::StrCat(PostHead("/echo", big.size()), big.substr(0, 100 * kKiB))));
  ASSERT_TRUE(AwaitBodyBytes(big.size()));

  // 400 KiB more do not fit: 503 at once, before the body is sent.
  Http1Client second(port_);
  ASSERT_TRUE(second.Send(PostHead("/echo", 400 * kKiB)));
  ExpectBusy(second.Read());
  EXPECT_TRUE(second.WaitForClose());
  EXPECT_EQ(listener_->stats().requests_refused_busy, 1u);
  EXPECT_EQ(listener_->stats().body_bytes_buffered, big.size());

  ASSERT_TRUE(first.Send(big.substr(100 * kKiB)));
  std::optional<Response> answered = first.Read();
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->result_int(), 200);
  EXPECT_EQ(answered->body(), big);

  // Answered: the first body no longer counts.
  Http1Client third(port_);
  ASSERT_TRUE(third.Send(Post("/echo", std::string(400 * kKiB, 'c'))));
  std::optional<Response> fits = third.Read();
  ASSERT_TRUE(fits.has_value());
  EXPECT_EQ(fits->result_int(), 200);
  EXPECT_EQ(fits->body().size(), 400 * kKiB);

  ExpectBudgetStats(2, 1);
}

TEST_F(HttpListenerTest, H2cDeclaredBodyBeyondBufferedLimitGets503) {
  StartListener(BodyBudgetOptions());
  const std::string big(800 * kKiB, 'a');
  H2Client client(port_);
  int32_t first =
      client.SubmitOpen("POST", "/echo", big.substr(0, 100 * kKiB),
                        {{"content-length", absl::StrCat(big.size())}});
  ASSERT_TRUE(client.RunUntil(
      [&] { return listener_->stats().body_bytes_buffered == big.size(); }));

  // Headers only: the 503 comes without waiting for the body, then the
  // stream is reset with NO_ERROR.
  int32_t second = client.SubmitOpen(
      "POST", "/echo", "", {{"content-length", absl::StrCat(400 * kKiB)}});
  ASSERT_TRUE(client.RunUntilClosed(second));
  ExpectBusy(client.stream(second));
  EXPECT_FALSE(client.stream(first).closed);
  EXPECT_EQ(listener_->stats().requests_refused_busy, 1u);

  client.Append(first, absl::string_view(big).substr(100 * kKiB),
                /*last=*/true);
  ASSERT_TRUE(client.RunUntilClosed(first));
  EXPECT_EQ(client.stream(first).status, 200);
  EXPECT_EQ(client.stream(first).body, big);

  int32_t third = client.Submit("POST", "/echo", std::string(400 * kKiB, 'c'),
                                {{"content-length", absl::StrCat(400 * kKiB)}});
  ASSERT_TRUE(client.RunUntilClosed(third));
  EXPECT_EQ(client.stream(third).status, 200);
  EXPECT_EQ(client.stream(third).body.size(), 400 * kKiB);

  ExpectBudgetStats(2, 1);
}

TEST_F(HttpListenerTest, Http1ChunkedBodyGrowingBeyondBufferedLimitGets503) {
  StartListener(BodyBudgetOptions());
  // 20 chunks of 64 KiB: 1.25 MiB, under max_body_bytes but over the budget.
  std::string request = kChunkedPostHead;
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&request, "10000\r\n", std::string(64 * kKiB, 'x'), "\r\n");
  }
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(request));
  ExpectBusy(client.Read());
  EXPECT_TRUE(client.WaitForClose());
  ExpectBudgetStats(0, 1);

  // A chunked body within the budget still goes through.
  Http1Client next(port_);
  ASSERT_TRUE(
      next.Send(absl::StrCat(kChunkedPostHead, "10000\r\n",
                             std::string(64 * kKiB, 'y'), "\r\n0\r\n\r\n")));
  std::optional<Response> response = next.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body().size(), 64 * kKiB);
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 0u);
}

TEST_F(HttpListenerTest, H2cUndeclaredBodyGrowingBeyondBufferedLimitGets503) {
  StartListener(BodyBudgetOptions());
  H2Client client(port_);
  int32_t id = client.Submit("POST", "/echo", std::string(1280 * kKiB, 'x'));
  ASSERT_TRUE(client.RunUntilClosed(id));
  ExpectBusy(client.stream(id));
  // The connection still serves.
  int32_t next = client.Submit("POST", "/echo", std::string(64 * kKiB, 'y'));
  ASSERT_TRUE(client.RunUntilClosed(next));
  EXPECT_EQ(client.stream(next).status, 200);
  EXPECT_EQ(client.stream(next).body.size(), 64 * kKiB);
  ExpectBudgetStats(1, 1);
}

TEST_F(HttpListenerTest, BufferedBodyBytesAreReleasedOnEveryPath) {
  StartListener(BodyBudgetOptions());
  // HTTP/1.1 client gone mid-body, with a declared and a chunked body.
  {
    Http1Client client(port_);
    ASSERT_TRUE(client.Send(
        absl::StrCat(PostHead("/echo", 800 * kKiB), std::string(10, 'a'))));
    ASSERT_TRUE(AwaitBodyBytes(800 * kKiB));
  }
  ASSERT_TRUE(AwaitBodyBytes(0));
  {
    Http1Client client(port_);
    ASSERT_TRUE(client.Send(absl::StrCat(kChunkedPostHead, "10000\r\n",
                                         std::string(64 * kKiB, 'x'), "\r\n")));
    ASSERT_TRUE(AwaitBodyBytes(64 * kKiB));
  }
  ASSERT_TRUE(AwaitBodyBytes(0));

  // HTTP/2: a stream reset mid-body, then the whole connection gone.
  {
    H2Client client(port_);
    int32_t reset = client.SubmitOpen("POST", "/echo", std::string(10, 'a'),
                                      {{"content-length", "300000"}});
    ASSERT_TRUE(client.RunUntil(
        [&] { return listener_->stats().body_bytes_buffered == 300000; }));
    client.Reset(reset);
    ASSERT_TRUE(client.RunUntil(
        [&] { return listener_->stats().body_bytes_buffered == 0; }));
    int32_t open = client.SubmitOpen("POST", "/echo", std::string(10, 'a'),
                                     {{"content-length", "300000"}});
    (void)open;
    ASSERT_TRUE(client.RunUntil(
        [&] { return listener_->stats().body_bytes_buffered == 300000; }));
  }
  ASSERT_TRUE(AwaitBodyBytes(0));

  // A held exchange keeps its body counted until the application answers.
  {
    Http1Client client(port_);
    ASSERT_TRUE(client.Send(Post("/hold", std::string(300 * kKiB, 'h'))));
    std::shared_ptr<HttpExchange> held = app_.Held(0);
    ASSERT_NE(held, nullptr);
    EXPECT_EQ(listener_->stats().body_bytes_buffered, 300 * kKiB);
    held->Respond({200, {}, "later"});
    EXPECT_EQ(listener_->stats().body_bytes_buffered, 0u);
    std::optional<Response> response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body(), "later");
  }
  // ... even after its client left: the application may still hold the
  // body.
  {
    H2Client client(port_);
    client.Submit("POST", "/hold", std::string(300 * kKiB, 'h'),
                  {{"content-length", absl::StrCat(300 * kKiB)}});
    ASSERT_TRUE(client.RunUntil([&] { return app_.HeldCount() == 2; }));
    client.Close();
  }
  std::shared_ptr<HttpExchange> held = app_.Held(1);
  ASSERT_TRUE(
      testing::WaitUntil([&] { return held->IsCancelled(); }, kTestTimeout));
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 300 * kKiB);
  held->Respond({200, {}, "too late"});
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 0u);

  // A held HTTP/2 exchange answered by streaming: counted until Finish. Its
  // body declares no length, so it was reserved in 64 KiB steps.
  H2Client client(port_);
  int32_t streamed =
      client.Submit("POST", "/hold", std::string(200 * kKiB, 's'));
  ASSERT_TRUE(client.RunUntil([&] { return app_.HeldCount() == 3; }));
  held = app_.Held(2);
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 256 * kKiB);
  held->StartStream(200, {});
  EXPECT_TRUE(held->Write("data: x\n\n"));
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 256 * kKiB);
  held->Finish();
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 0u);
  ASSERT_TRUE(client.RunUntilClosed(streamed));
  EXPECT_EQ(client.stream(streamed).body, "data: x\n\n");

  // Held, then dropped unanswered: released with the exchange (and 500).
  int32_t dropped =
      client.Submit("POST", "/hold", std::string(100 * kKiB, 'd'),
                    {{"content-length", absl::StrCat(100 * kKiB)}});
  ASSERT_TRUE(client.RunUntil([&] { return app_.HeldCount() == 4; }));
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 100 * kKiB);
  held.reset();
  app_.ReleaseHeld();
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 0u);
  ASSERT_TRUE(client.RunUntilClosed(dropped));
  EXPECT_EQ(client.stream(dropped).status, 500);

  // Dropped at once by the application.
  int32_t drop = client.Submit("POST", "/drop", std::string(100 * kKiB, 'd'));
  ASSERT_TRUE(client.RunUntilClosed(drop));
  EXPECT_EQ(client.stream(drop).status, 500);
  EXPECT_EQ(listener_->stats().body_bytes_buffered, 0u);
  EXPECT_EQ(listener_->stats().requests_refused_busy, 0u);
}

TEST_F(HttpListenerTest, Http1HeaderOverLimitGets431AndClose) {
  HttpListenerOptions options;
  options.max_header_bytes = 1024;
  StartListener(options);
  Http1Client client(port_);
  client.Send(
      Get("/echo", absl::StrCat("X-Big: ", std::string(4096, 'a'), "\r\n")));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 431);
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpListenerTest, Http1MalformedRequestGets400AndClose) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send("THIS IS NOT HTTP\r\n\r\n"));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 400);
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpListenerTest, Http1SlowHeadIsClosedAfterHeaderTimeout) {
  HttpListenerOptions options;
  options.header_timeout = absl::Milliseconds(200);
  StartListener(options);
  Http1Client client(port_);
  ASSERT_TRUE(client.Send("GET /echo HTTP/1.1\r\nHost: te"));
  EXPECT_TRUE(client.WaitForClose());
  // A connection that sends nothing at all is closed too.
  Http1Client silent(port_);
  EXPECT_TRUE(silent.WaitForClose());
}

TEST_F(HttpListenerTest, Http1SlowBodyIsClosedAfterBodyTimeout) {
  HttpListenerOptions options;
  options.body_timeout = absl::Milliseconds(200);
  StartListener(options);
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nabc"));
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpListenerTest, Http1IdleKeepAliveConnectionIsClosed) {
  HttpListenerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  StartListener(options);
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(Get("/fixed")));
  ASSERT_TRUE(client.Read().has_value());
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpListenerTest, Http1HeadSendsLengthWithoutBody) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send("HEAD /fixed HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::optional<Response> head = client.Read(/*head_request=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->result_int(), 200);
  EXPECT_EQ(ToString((*head)["Content-Length"]), "11");
  // Had a body followed the head, it would be read as the next response.
  ASSERT_TRUE(client.Send(Post("/echo", "next")));
  std::optional<Response> next = client.Read();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->result_int(), 200);
  EXPECT_EQ(next->body(), "next");
}

TEST_F(HttpListenerTest, Http1StreamIsChunked) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(Get("/stream/5")));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(ToString((*response)["Transfer-Encoding"]), "chunked");
  EXPECT_EQ(ToString((*response)["Content-Type"]), "text/event-stream");
  EXPECT_EQ(response->body(),
            "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  // The connection stays usable after the last chunk.
  ASSERT_TRUE(client.Send(Get("/fixed")));
  ASSERT_TRUE(client.Read().has_value());
}

TEST_F(HttpListenerTest, Http1StreamDeliversEventsBeforeFinish) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(Get("/gated")));
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  ASSERT_TRUE(client.ReadHeader(parser));
  while (!absl::StrContains(parser.get().body(), "data: first\n\n")) {
    ASSERT_FALSE(parser.is_done());
    ASSERT_TRUE(client.ReadSome(parser));
  }
  EXPECT_FALSE(parser.is_done());
  app_.OpenGate();
  while (!parser.is_done()) ASSERT_TRUE(client.ReadSome(parser));
  EXPECT_EQ(parser.get().body(), "data: first\n\ndata: last\n\n");
}

TEST_F(HttpListenerTest, Http1StreamToClientThatDoesNotReadIsBounded) {
  HttpListenerOptions options;
  options.max_stream_buffer_bytes = 256 * 1024;
  StartListener(options);
  {
    Http1Client client(port_, /*receive_buffer=*/4096);
    ASSERT_TRUE(client.Send(Get("/flood")));
    std::optional<bool> failed = app_.FloodWriteFailed();
    ASSERT_TRUE(failed.has_value());
    EXPECT_TRUE(*failed);
    EXPECT_TRUE(app_.FloodCancelled());
  }
  Http1Client next(port_);
  ASSERT_TRUE(next.Send(Get("/fixed")));
  std::optional<Response> response = next.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "hello world");
}

TEST_F(HttpListenerTest, Http1DroppedExchangeGets500) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(Get("/drop")));
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 500);
}

TEST_F(HttpListenerTest, ConnectionsBeyondLimitAreClosed) {
  HttpListenerOptions options;
  options.max_connections = 1;
  StartListener(options);
  Http1Client first(port_);
  ASSERT_TRUE(first.Send(Get("/fixed")));
  ASSERT_TRUE(first.Read().has_value());
  Http1Client second(port_);
  EXPECT_TRUE(second.WaitForClose());
  ASSERT_TRUE(first.Send(Get("/fixed")));
  EXPECT_TRUE(first.Read().has_value());
}

TEST_F(HttpListenerTest, RespondAfterHttp1ClientLeftIsSafe) {
  StartListener();
  {
    Http1Client client(port_);
    ASSERT_TRUE(client.Send(Get("/hold")));
    ASSERT_NE(app_.Held(0), nullptr);
  }
  std::shared_ptr<HttpExchange> exchange = app_.Held(0);
  exchange->Respond({200, {}, "too late"});
  exchange->Respond({200, {}, "twice"});
  EXPECT_FALSE(exchange->Write("not streaming"));
  Http1Client next(port_);
  ASSERT_TRUE(next.Send(Get("/fixed")));
  EXPECT_TRUE(next.Read().has_value());
}

TEST_F(HttpListenerTest, H2cServesManyConcurrentStreamsOnOneConnection) {
  StartListener();
  H2Client client(port_);
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) {
    std::string path =
        i % 2 == 0 ? "/echo" : absl::StrCat("/delayed/", (i * 7) % 40);
    ids.push_back(client.Submit("POST", path, absl::StrCat("body ", i)));
  }
  ASSERT_TRUE(client.RunUntilAllClosed(ids));
  for (int i = 0; i < 50; ++i) {
    const H2Client::Stream& stream = client.stream(ids[i]);
    EXPECT_EQ(stream.status, 200);
    EXPECT_EQ(stream.body, absl::StrCat("body ", i));
    EXPECT_EQ(stream.error_code, 0u);
    EXPECT_EQ(stream.headers.at("x-http2"), "1");
    EXPECT_EQ(stream.headers.at("server"), "asap");
    EXPECT_TRUE(
        absl::StartsWith(stream.headers.at("x-peer"), "ipv4:127.0.0.1:"));
  }
  HttpListener::Stats stats = listener_->stats();
  EXPECT_EQ(stats.connections_accepted, 1u);
  EXPECT_EQ(stats.http2_connections, 1u);
  EXPECT_EQ(stats.requests, 50u);
}

TEST_F(HttpListenerTest, H2cBodyOverLimitGets413) {
  HttpListenerOptions options;
  options.max_body_bytes = 1000;
  StartListener(options);
  H2Client client(port_);
  int32_t declared = client.Submit("POST", "/echo", std::string(2000, 'x'),
                                   {{"content-length", "2000"}});
  int32_t undeclared = client.Submit("POST", "/echo", std::string(2000, 'x'));
  int32_t small = client.Submit("POST", "/echo", std::string(1000, 'x'));
  ASSERT_TRUE(client.RunUntilAllClosed({declared, undeclared, small}));
  EXPECT_EQ(client.stream(declared).status, 413);
  EXPECT_EQ(client.stream(declared).headers.at("content-type"),
            "application/json");
  EXPECT_EQ(client.stream(declared).body,
            "{\"detail\":\"Request body too large: 2000 bytes (limit 1000)\"}");
  EXPECT_EQ(client.stream(undeclared).status, 413);
  EXPECT_EQ(client.stream(undeclared).body,
            "{\"detail\":\"Request body too large: more than 1000 bytes "
            "(limit 1000)\"}");
  EXPECT_EQ(client.stream(small).status, 200);
  EXPECT_EQ(client.stream(small).body.size(), 1000u);
  EXPECT_EQ(listener_->stats().requests, 1u);
}

TEST_F(HttpListenerTest, H2cHeaderOverLimitGets431) {
  HttpListenerOptions options;
  options.max_header_bytes = 1024;
  StartListener(options);
  H2Client client(port_);
  int32_t id = client.Submit("GET", "/echo", std::nullopt,
                             {{"x-big", std::string(4096, 'a')}});
  ASSERT_TRUE(client.RunUntilClosed(id));
  EXPECT_EQ(client.stream(id).status, 431);
  int32_t next = client.Submit("GET", "/fixed");
  ASSERT_TRUE(client.RunUntilClosed(next));
  EXPECT_EQ(client.stream(next).status, 200);
}

TEST_F(HttpListenerTest, H2cStreamDeliversEventsBeforeFinish) {
  StartListener();
  H2Client client(port_);
  int32_t whole = client.Submit("GET", "/stream/3");
  int32_t gated = client.Submit("GET", "/gated");
  ASSERT_TRUE(client.RunUntil([&] {
    return absl::StrContains(client.stream(gated).body, "data: first\n\n");
  }));
  EXPECT_FALSE(client.stream(gated).closed);
  app_.OpenGate();
  ASSERT_TRUE(client.RunUntilAllClosed({whole, gated}));
  EXPECT_EQ(client.stream(whole).body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  EXPECT_EQ(client.stream(gated).body, "data: first\n\ndata: last\n\n");
  EXPECT_EQ(client.stream(gated).headers.at("content-type"),
            "text/event-stream");
}

TEST_F(HttpListenerTest, H2cHeadSendsLengthWithoutBody) {
  StartListener();
  H2Client client(port_);
  int32_t id = client.Submit("HEAD", "/fixed");
  ASSERT_TRUE(client.RunUntilClosed(id));
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_EQ(client.stream(id).headers.at("content-length"), "11");
  EXPECT_EQ(client.stream(id).body, "");
}

TEST_F(HttpListenerTest, H2cStreamToClientThatDoesNotReadIsReset) {
  HttpListenerOptions options;
  options.max_stream_buffer_bytes = 256 * 1024;
  StartListener(options);
  H2Client client(port_);
  int32_t flood = client.Submit("GET", "/flood");
  // Until the response starts (or, if the server's buffer filled before
  // its head went out, ends); then the client stops reading: its
  // flow-control window closes and the server's stream buffer fills.
  ASSERT_TRUE(client.RunUntil([&] {
    return client.stream(flood).status != 0 || client.stream(flood).closed;
  }));
  std::optional<bool> failed = app_.FloodWriteFailed();
  ASSERT_TRUE(failed.has_value());
  EXPECT_TRUE(*failed);
  ASSERT_TRUE(client.RunUntilClosed(flood));
  EXPECT_EQ(client.stream(flood).error_code,
            static_cast<uint32_t>(NGHTTP2_CANCEL));
  // Only the stream was reset: the connection still serves.
  int32_t next = client.Submit("GET", "/fixed");
  ASSERT_TRUE(client.RunUntilClosed(next));
  EXPECT_EQ(client.stream(next).body, "hello world");
}

TEST_F(HttpListenerTest, H2cSlowRequestBodyIsResetAfterBodyTimeout) {
  HttpListenerOptions options;
  options.body_timeout = absl::Milliseconds(200);
  StartListener(options);
  H2Client client(port_);
  // Headers without END_STREAM and a body that never comes.
  client.OpenBodyForNextSubmit();
  int32_t id = client.Submit("POST", "/echo", "", {{"content-length", "10"}});
  ASSERT_TRUE(client.RunUntil([&] { return client.stream(id).closed; }));
  EXPECT_EQ(client.stream(id).error_code,
            static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpListenerTest, H2cIdleConnectionIsClosed) {
  HttpListenerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  StartListener(options);
  H2Client client(port_);
  int32_t id = client.Submit("GET", "/fixed");
  ASSERT_TRUE(client.RunUntilClosed(id));
  EXPECT_FALSE(client.RunUntil([] { return false; }));
  EXPECT_TRUE(client.connection_closed());
}

TEST_F(HttpListenerTest, RespondAfterH2cConnectionClosedIsSafe) {
  StartListener();
  {
    H2Client client(port_);
    int32_t id = client.Submit("GET", "/hold");
    ASSERT_TRUE(client.RunUntil([&] { return app_.HeldCount() == 1; }));
    (void)id;
    client.Close();
  }
  std::shared_ptr<HttpExchange> exchange = app_.Held(0);
  EXPECT_TRUE(testing::WaitUntil([&] { return exchange->IsCancelled(); },
                                 kTestTimeout));
  exchange->StartStream(200, {});
  EXPECT_FALSE(exchange->Write("gone"));
  exchange->Finish();
}

TEST_F(HttpListenerTest, ShutdownLetsAnswerInFlightFinish) {
  StartListener();
  Http1Client client(port_);
  ASSERT_TRUE(client.Send(Post("/delayed/300", "in flight")));
  // Wait until the request is with the application.
  testing::WaitUntil([&] { return listener_->stats().requests != 0; },
                     kTestTimeout);
  std::thread shutdown([this] { listener_->Shutdown(absl::Seconds(10)); });
  std::optional<Response> response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "in flight");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client.WaitForClose());
  client.Close();
  shutdown.join();
}

TEST_F(HttpListenerTest, ShutdownWithUnansweredRequestsDoesNotHang) {
  StartListener();
  Http1Client http1(port_);
  ASSERT_TRUE(http1.Send(Get("/hold")));
  H2Client http2(port_);
  int32_t id = http2.Submit("GET", "/hold");
  (void)id;
  ASSERT_TRUE(http2.RunUntil([&] { return app_.HeldCount() == 2; }));
  listener_->Shutdown(absl::Milliseconds(200));
  listener_->Shutdown(absl::Milliseconds(200));  // idempotent
  EXPECT_TRUE(http1.WaitForClose());
  for (size_t i = 0; i < 2; ++i) {
    std::shared_ptr<HttpExchange> exchange = app_.Held(i);
    EXPECT_TRUE(exchange->IsCancelled());
    exchange->Respond({200, {}, "after shutdown"});
  }
  // And after the listener is gone.
  listener_.reset();
  app_.Held(0)->Respond({200, {}, "after the listener"});
  EXPECT_TRUE(app_.Held(1)->IsCancelled());
}

}  // namespace
}  // namespace asap
