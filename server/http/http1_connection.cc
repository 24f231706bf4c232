#include "server/http/http1_connection.h"

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace asap {
namespace http_internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Bytes read at a time while waiting for a request or draining a closing
// connection.
constexpr size_t kReadChunk = 16 * 1024;
// After its last response a connection stops sending and reads (and drops)
// what the client still sends for this long before it closes: closing with
// unread input resets the connection, and the reset can destroy the
// response (a 413 sent while the client is still uploading) before the
// client has read it.
constexpr absl::Duration kLingerTime = absl::Seconds(1);
// Most queued pieces of output gathered into one write.
constexpr size_t kMaxBuffersPerWrite = 64;
// On TLS, queued pieces up to this many bytes in all are copied into one
// buffer for the write: an SSL stream encrypts each buffer of a sequence
// into records of its own (a chunk's size line, its data and its CRLF would
// each cost a record and a system call).
constexpr size_t kTlsCoalesceBytes = 64 * 1024;

constexpr absl::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

enum class Framing {
  kNone,           // 1xx, 204, 304: no body and no length
  kContentLength,  // whole responses
  kChunked,        // streamed responses on HTTP/1.1
  kUntilClose,     // streamed responses on HTTP/1.0
};

absl::string_view ToAbsl(beast::string_view view) {
  return absl::string_view(view.data(), view.size());
}

bool StatusHasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

int ValidStatus(int status) {
  return status >= 100 && status <= 999 ? status : 500;
}

std::string ResponseHead(unsigned version, int status,
                         const HttpHeaders& headers, Framing framing,
                         size_t content_length, bool keep_alive) {
  absl::string_view reason =
      ToAbsl(http::obsolete_reason(static_cast<http::status>(status)));
  if (reason == "<unknown-status>") reason = "";
  std::string head = absl::StrCat("HTTP/", version / 10, ".", version % 10, " ",
                                  status, " ", reason, "\r\n");
  bool has_server = false;
  for (const auto& [name, value] : headers) {
    std::string lower = absl::AsciiStrToLower(name);
    if (name.empty() || IsTransportHeader(lower) || !IsSafeHeaderText(name) ||
        !IsSafeHeaderText(value) ||
        name.find_first_of(": \t") != std::string::npos) {
      continue;
    }
    if (lower == "server") has_server = true;
    absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  if (!has_server) head += "Server: asap\r\n";
  switch (framing) {
    case Framing::kContentLength:
      absl::StrAppend(&head, "Content-Length: ", content_length, "\r\n");
      break;
    case Framing::kChunked:
      head += "Transfer-Encoding: chunked\r\n";
      break;
    case Framing::kNone:
    case Framing::kUntilClose:
      break;
  }
  if (version >= 11 && !keep_alive) head += "Connection: close\r\n";
  if (version < 11 && keep_alive) head += "Connection: keep-alive\r\n";
  head += "\r\n";
  return head;
}

bool IsHttpError(const boost::system::error_code& error) {
  return error.category() ==
         http::make_error_code(http::error::bad_target).category();
}

// A request body (a std::string) that takes its bytes from the listener's
// BodyBudget before it holds them: a declared length is reserved with the
// head (Http1Connection::OnHeader), a chunked body in kBodyReserveStep steps
// as it arrives. When the budget has no room, the read fails with `refused`
// set.
struct BudgetedBody {
  struct value_type {
    std::string data;
    BodyReservation* reservation = nullptr;
    size_t max_bytes = 0;  // the body limit; reservations stop there
    bool refused = false;
  };

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<uint64_t>& length,
              boost::system::error_code& error) {
      if (length.has_value()) {
        if (!Reserve(*length)) {
          error = asio::error::no_buffer_space;
          return;
        }
        body_.data.reserve(static_cast<size_t>(*length));
      }
      error = {};
    }

    template <typename ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers,
               boost::system::error_code& error) {
      size_t size = body_.data.size();
      size_t extra = beast::buffer_bytes(buffers);
      if (!Reserve(size + extra)) {
        error = asio::error::no_buffer_space;
        return 0;
      }
      body_.data.resize(size + extra);
      asio::buffer_copy(asio::buffer(&body_.data[size], extra), buffers);
      error = {};
      return extra;
    }

    void finish(boost::system::error_code& error) { error = {}; }

   private:
    bool Reserve(uint64_t size) {
      if (body_.reservation->Cover(static_cast<size_t>(size),
                                   body_.max_bytes)) {
        return true;
      }
      body_.refused = true;
      return false;
    }

    value_type& body_;
  };
};

// One HTTP/1.x connection. At most one request is handled at a time: the
// next (pipelined) request is read only after the response to the previous
// one is written, so a connection holds at most one request, one response
// and one read buffer. Every member function runs on the stream's strand.
template <typename Stream>
class Http1Connection final
    : public ServerConnection,
      public std::enable_shared_from_this<Http1Connection<Stream>> {
 public:
  using Self = Http1Connection<Stream>;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Http1Connection(Stream stream, ConnectionSlot slot, std::string received,
                  ConnectionInfo info)
      : slot_(std::move(slot)),
        options_(slot_.core().options()),
        info_(std::move(info)),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()) {
    asio::buffer_copy(buffer_.prepare(received.size()), asio::buffer(received));
    buffer_.commit(received.size());
  }

  ~Http1Connection() override { slot_.core().Unregister(this); }

  typename Stream::executor_type executor() { return stream_.get_executor(); }

  void Start() {
    if (!slot_.core().Register(this, this->weak_from_this())) {
      shutting_down_ = true;
    }
    ReadRequest();
  }

  void BeginShutdown() override {
    asio::post(executor(), [self = this->shared_from_this()] {
      if (self->closed_) return;
      self->shutting_down_ = true;
      if (self->phase_ != Phase::kHandling) self->Close();
    });
  }

  void ForceClose() override {
    asio::post(executor(),
               [self = this->shared_from_this()] { self->Close(); });
  }

  // The exchange's calls (see ConnectionExchange).
  void OnRespond(int32_t, const std::shared_ptr<ExchangeState>& state,
                 HttpResponse response) {
    if (state != exchange_ || closed_) return;
    int status = ValidStatus(response.status);
    bool no_body = StatusHasNoBody(status);
    keep_alive_ = keep_alive_ && !shutting_down_;
    Queue(ResponseHead(version_, status, response.headers,
                       no_body ? Framing::kNone : Framing::kContentLength,
                       response.body.size(), keep_alive_),
          0);
    if (!head_ && !no_body && !response.body.empty()) {
      Queue(std::move(response.body), 0);
    }
    response_complete_ = true;
    Flush();
  }

  void OnStartStream(int32_t, const std::shared_ptr<ExchangeState>& state,
                     int status, HttpHeaders headers) {
    if (state != exchange_ || closed_) return;
    status = ValidStatus(status);
    bool no_body = StatusHasNoBody(status);
    chunked_ = version_ >= 11;
    // HTTP/1.0 has no chunks: the end of the connection ends the body.
    if (!chunked_) keep_alive_ = false;
    keep_alive_ = keep_alive_ && !shutting_down_;
    Framing framing = no_body    ? Framing::kNone
                      : chunked_ ? Framing::kChunked
                                 : Framing::kUntilClose;
    Queue(ResponseHead(version_, status, headers, framing, 0, keep_alive_), 0);
    stream_body_ = !head_ && !no_body;
    Flush();
  }

  void OnWrite(int32_t, const std::shared_ptr<ExchangeState>& state,
               std::string data) {
    size_t size = data.size();
    if (state != exchange_ || closed_ || !stream_body_ || size == 0) {
      state->Release(size);
      return;
    }
    if (chunked_) {
      Queue(absl::StrCat(absl::Hex(size), "\r\n"), 0);
      Queue(std::move(data), size);
      Queue("\r\n", 0);
    } else {
      Queue(std::move(data), size);
    }
    Flush();
  }

  void OnFinish(int32_t, const std::shared_ptr<ExchangeState>& state) {
    if (state != exchange_ || closed_) return;
    if (stream_body_ && chunked_) Queue("0\r\n\r\n", 0);
    response_complete_ = true;
    Flush();
  }

  void OnReset(int32_t, const std::shared_ptr<ExchangeState>& state) {
    if (state != exchange_) return;
    Close();
  }

  void OnAbandon(int32_t id, const std::shared_ptr<ExchangeState>& state) {
    if (state != exchange_ || closed_) return;
    if (state->answered.load()) {
      // A streamed body cut short: closing without the last chunk tells the
      // client it is incomplete.
      Close();
      return;
    }
    HttpResponse response;
    response.status = 500;
    response.headers = {{"content-type", "application/json"}};
    response.body = JsonDetail("The server dropped the request unanswered");
    OnRespond(id, state, std::move(response));
  }

 private:
  enum class Phase {
    kWaiting,   // for the first byte of the next request (idle)
    kReading,   // a request's head or body
    kHandling,  // the application's answer, until it is written
    kClosing,   // lingering after the last response
  };

  struct Output {
    std::string bytes;
    size_t counted;  // bytes of the exchange's streamed output
  };

  void ReadRequest() {
    if (closed_) return;
    if (shutting_down_) {
      Close();
      return;
    }
    parser_.emplace();
    reservation_ = BodyReservation(slot_.core().body_budget());
    BudgetedBody::value_type& body = parser_->get().body();
    body.reservation = &reservation_;
    body.max_bytes = options_.max_body_bytes;
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(
        options_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    // The declared length is checked after the head, to answer 413 with it.
    parser_->body_limit(boost::none);
    if (buffer_.size() == 0) {
      WaitForRequest();
    } else {
      ReadHeader();
    }
  }

  void WaitForRequest() {
    phase_ = Phase::kWaiting;
    timer_.Arm(options_.idle_timeout,
               [self = this->shared_from_this()] { self->Close(); });
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](
                                boost::system::error_code error, size_t n) {
                              if (self->closed_) return;
                              self->buffer_.commit(n);
                              if (error) {
                                self->Close();
                                return;
                              }
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    timer_.Arm(options_.header_timeout,
               [self = this->shared_from_this()] { self->Close(); });
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](boost::system::error_code error,
                                          size_t) { self->OnHeader(error); });
  }

  void OnHeader(boost::system::error_code error) {
    if (closed_) return;
    if (error) {
      OnReadError(error);
      return;
    }
    boost::optional<uint64_t> declared = parser_->content_length();
    if (declared && *declared > options_.max_body_bytes) {
      SendError(413, BodyTooLargeDetail(*declared, options_.max_body_bytes));
      return;
    }
    // Before the body is read (and before 100 Continue invites it).
    if (declared && !reservation_.GrowTo(static_cast<size_t>(*declared))) {
      RefuseBusy();
      return;
    }
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    const auto& message = parser_->get();
    if (message.version() >= 11 &&
        absl::EqualsIgnoreCase(ToAbsl(message[http::field::expect]),
                               "100-continue")) {
      asio::async_write(stream_,
                        asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](
                            boost::system::error_code error, size_t) {
                          if (self->closed_) return;
                          if (error) {
                            self->Close();
                            return;
                          }
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    parser_->body_limit(static_cast<uint64_t>(options_.max_body_bytes));
    timer_.Arm(options_.body_timeout,
               [self = this->shared_from_this()] { self->Close(); });
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](
                         boost::system::error_code error, size_t) {
                       if (self->closed_) return;
                       if (error) {
                         self->OnReadError(error);
                       } else {
                         self->Dispatch();
                       }
                     });
  }

  void OnReadError(boost::system::error_code error) {
    if (parser_.has_value() && parser_->get().body().refused) {
      RefuseBusy();
    } else if (error == http::error::body_limit) {
      SendError(413, BodyTooLargeDetail(std::nullopt, options_.max_body_bytes));
    } else if (error == http::error::header_limit ||
               error == http::error::buffer_overflow) {
      SendError(431, "Request header fields too large");
    } else if (error == http::error::end_of_stream ||
               error == http::error::partial_message || !IsHttpError(error)) {
      // The client went away (or the socket failed): nobody to answer.
      Close();
    } else {
      SendError(400, absl::StrCat("Malformed HTTP request: ", error.message()));
    }
  }

  void Dispatch() {
    timer_.Cancel();
    phase_ = Phase::kHandling;
    http::request<BudgetedBody> message = parser_->release();
    parser_.reset();

    HttpRequest request;
    request.method = std::string(ToAbsl(message.method_string()));
    request.target = std::string(ToAbsl(message.target()));
    for (const auto& field : message) {
      request.headers.emplace_back(
          absl::AsciiStrToLower(ToAbsl(field.name_string())),
          std::string(ToAbsl(field.value())));
    }
    request.body = std::move(message.body().data);
    info_.FillRequest(request);
    request.http2 = false;
    version_ = message.version();
    keep_alive_ = message.keep_alive();
    head_ = message.method() == http::verb::head;
    chunked_ = false;
    stream_body_ = false;

    exchange_ =
        std::make_shared<ExchangeState>(options_.max_stream_buffer_bytes);
    // The body's bytes count until the exchange is answered or dropped.
    exchange_->body_reservation = std::move(reservation_);
    // No I/O is pending while the application works on its answer, and the
    // exchange holds the connection only weakly: the connection holds itself
    // until the answer is written or the connection closes.
    self_ = this->shared_from_this();
    slot_.core().CountRequest();
    slot_.core().app().Handle(std::move(request),
                              std::make_shared<ConnectionExchange<Self>>(
                                  this->weak_from_this(), 0, exchange_));
  }

  // The transport's own answer to a request it will not hand on; the
  // connection closes after it.
  void SendError(int status, absl::string_view detail) {
    SendTransportResponse(
        {status, {{"Content-Type", "application/json"}}, JsonDetail(detail)});
  }

  // The request's body does not fit in the listener's body budget.
  void RefuseBusy() {
    slot_.core().CountRefusedBusy();
    SendTransportResponse(BodyBudgetExhaustedResponse());
  }

  void SendTransportResponse(HttpResponse response) {
    timer_.Cancel();
    phase_ = Phase::kHandling;
    parser_.reset();
    // The body is not read: lingering drops what the client still sends.
    reservation_.Release();
    keep_alive_ = false;
    Queue(ResponseHead(11, response.status, response.headers,
                       Framing::kContentLength, response.body.size(), false),
          0);
    Queue(std::move(response.body), 0);
    response_complete_ = true;
    Flush();
  }

  void Queue(std::string bytes, size_t counted) {
    out_.push_back(Output{std::move(bytes), counted});
  }

  // Writes what is queued, if no write is in progress. Each streamed piece
  // goes out as soon as the previous write completes.
  void Flush() {
    if (writing_ || closed_) return;
    if (out_.empty()) {
      if (response_complete_) OnResponseWritten();
      return;
    }
    writing_ = true;
    size_t count = std::min(out_.size(), kMaxBuffersPerWrite);
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(count);
    // Queue() only appends to the deque, which keeps the queued strings in
    // place while the write is in progress.
    for (size_t i = 0; i < count; ++i) {
      buffers.push_back(asio::buffer(out_[i].bytes));
    }
    if constexpr (kTls) {
      if (count > 1 && asio::buffer_size(buffers) <= kTlsCoalesceBytes) {
        coalesced_.clear();
        for (const asio::const_buffer& buffer : buffers) {
          coalesced_.append(static_cast<const char*>(buffer.data()),
                            buffer.size());
        }
        buffers.assign(1, asio::buffer(coalesced_));
      }
    }
    // A client that stops reading must not hold the connection forever.
    timer_.Arm(options_.idle_timeout,
               [self = this->shared_from_this()] { self->Close(); });
    asio::async_write(stream_, buffers,
                      [self = this->shared_from_this(), count](
                          boost::system::error_code error, size_t) {
                        self->OnWritten(error, count);
                      });
  }

  void OnWritten(boost::system::error_code error, size_t count) {
    writing_ = false;
    for (size_t i = 0; i < count; ++i) {
      if (exchange_ != nullptr && out_.front().counted > 0) {
        exchange_->Release(out_.front().counted);
      }
      out_.pop_front();
    }
    if (closed_) return;
    timer_.Cancel();
    if (error) {
      Close();
      return;
    }
    Flush();
  }

  void OnResponseWritten() {
    response_complete_ = false;
    stream_body_ = false;
    exchange_.reset();
    // Callers hold a reference of their own (their handler's).
    self_.reset();
    if (!keep_alive_ || shutting_down_) {
      Linger();
      return;
    }
    ReadRequest();
  }

  void Linger() {
    phase_ = Phase::kClosing;
    timer_.Arm(kLingerTime,
               [self = this->shared_from_this()] { self->Close(); });
    if constexpr (kTls) {
      // close_notify first, so that the client can tell the end of the
      // connection (and of a body that runs until it) from a truncation.
      // The shutdown also waits for the client's close_notify; whatever it
      // returns, the raw bytes that follow are dropped as on plaintext.
      stream_.async_shutdown(
          [self = this->shared_from_this()](boost::system::error_code) {
            if (self->closed_) return;
            self->ShutdownSendAndDiscard();
          });
    } else {
      ShutdownSendAndDiscard();
    }
  }

  void ShutdownSendAndDiscard() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream_).shutdown(asio::socket_base::shutdown_send,
                                              ignored);
    Discard();
  }

  // Reads and drops what the client still sends, below TLS: after the last
  // response nothing of it needs decrypting.
  void Discard() {
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(discard_), [self = this->shared_from_this()](
                                    boost::system::error_code error, size_t) {
          if (self->closed_) return;
          if (error) {
            self->Close();
            return;
          }
          self->Discard();
        });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    // Released when Close returns, not in the middle of it.
    std::shared_ptr<Self> self = std::move(self_);
    timer_.Cancel();
    if (exchange_ != nullptr) exchange_->cancelled = true;
    // A body being read is dropped with the connection. (One already handed
    // to the application counts until its exchange is finished or dropped.)
    reservation_.Release();
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_);
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
  }

  // First, so destroyed last: the slot keeps the ListenerCore, and with it
  // the io_context of the stream and timer, alive until they are gone (the
  // last reference may be dropped by an application thread after the
  // listener itself is gone).
  ConnectionSlot slot_;
  const HttpListenerOptions& options_;
  // Before stream_: a TLS stream's context outlives it.
  const ConnectionInfo info_;
  Stream stream_;
  PhaseTimer timer_;

  Phase phase_ = Phase::kWaiting;
  bool closed_ = false;
  bool shutting_down_ = false;

  beast::flat_buffer buffer_;
  std::optional<http::request_parser<BudgetedBody>> parser_;
  // The body of the request being read; moves into its ExchangeState.
  BodyReservation reservation_;
  std::array<char, kReadChunk> discard_;

  // The request being answered.
  std::shared_ptr<ExchangeState> exchange_;
  std::shared_ptr<Self> self_;  // while exchange_ is being answered
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool chunked_ = false;      // the streamed body goes out in chunks
  bool stream_body_ = false;  // a streamed body goes out at all (not HEAD)
  bool response_complete_ = false;

  std::deque<Output> out_;
  std::string coalesced_;  // TLS: the pieces of the write in progress
  bool writing_ = false;
};

}  // namespace

void ServeHttp1(boost::asio::ip::tcp::socket socket, ConnectionSlot slot,
                std::string received, ConnectionInfo info) {
  std::make_shared<Http1Connection<boost::asio::ip::tcp::socket>>(
      std::move(socket), std::move(slot), std::move(received), std::move(info))
      ->Start();
}

void ServeHttp1(TlsStream stream, ConnectionSlot slot, std::string received,
                ConnectionInfo info) {
  std::make_shared<Http1Connection<TlsStream>>(
      std::move(stream), std::move(slot), std::move(received), std::move(info))
      ->Start();
}

}  // namespace http_internal
}  // namespace asap
