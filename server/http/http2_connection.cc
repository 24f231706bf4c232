#include "server/http/http2_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace asap {
namespace http_internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;
// Output is taken from nghttp2 in batches of about this size: large enough
// for few system calls, small enough that a connection holds little unsent.
constexpr size_t kWriteBatch = 64 * 1024;
// Flow-control windows for request bodies: nghttp2 replenishes them as data
// arrives (bodies are bounded by max_body_bytes, not by the window), so they
// only set how fast a client may upload.
constexpr int32_t kStreamWindow = 256 * 1024;
constexpr int32_t kConnectionWindow = 1024 * 1024;

// One request/response exchange of the connection.
struct H2Stream {
  int32_t id = 0;
  HttpRequest request;
  // request.body's share of the listener's body budget, until the request
  // is refused, ends unanswered or moves (with the body) to its exchange.
  BodyReservation body_reservation;
  std::string authority;
  size_t header_bytes = 0;
  bool header_too_large = false;
  bool request_ended = false;  // END_STREAM received
  // Answered by the transport itself (413, 431, 503); further DATA is
  // dropped.
  bool rejected = false;
  bool dispatched = false;  // handed to the application
  // The request must be complete by then (head, then body timeout).
  Clock::time_point deadline = Clock::time_point::max();
  bool head = false;
  std::shared_ptr<ExchangeState> exchange;

  // Response body not yet taken by nghttp2.
  std::deque<std::string> out;
  size_t out_offset = 0;  // into out.front()
  bool streaming = false;
  bool stream_body = false;     // a streamed body goes out at all (not HEAD)
  bool eof = false;             // nothing follows what is in `out`
  bool deferred = false;        // the data provider waits for more
  bool response_ended = false;  // END_STREAM sent
};

int ValidFinalStatus(int status) {
  return status >= 200 && status <= 999 ? status : 500;
}

// One HTTP/2 connection: nghttp2's server session fed from and drained to
// the stream. Every member function runs on the stream's strand; nghttp2
// calls back only from inside mem_recv and mem_send, so on the strand too.
template <typename Stream>
class Http2Connection final
    : public ServerConnection,
      public std::enable_shared_from_this<Http2Connection<Stream>> {
 public:
  using Self = Http2Connection<Stream>;

  Http2Connection(Stream stream, ConnectionSlot slot, std::string received,
                  ConnectionInfo info)
      : slot_(std::move(slot)),
        options_(slot_.core().options()),
        info_(std::move(info)),
        stream_(std::move(stream)),
        sweep_timer_(stream_.get_executor()),
        received_(std::move(received)) {}

  ~Http2Connection() override {
    if (session_ != nullptr) nghttp2_session_del(session_);
    slot_.core().Unregister(this);
  }

  typename Stream::executor_type executor() { return stream_.get_executor(); }

  void Start() {
    if (!slot_.core().Register(this, this->weak_from_this())) {
      shutting_down_ = true;
    }
    if (!CreateSession()) {
      Close();
      return;
    }
    idle_since_ = Clock::now();
    std::string received = std::move(received_);
    Receive(reinterpret_cast<const uint8_t*>(received.data()), received.size());
    if (shutting_down_) SubmitGoaway();
    SendPending();
    if (closed_) return;
    Read();
    ArmSweep();
  }

  void BeginShutdown() override {
    asio::post(executor(), [self = this->shared_from_this()] {
      if (self->closed_ || self->shutting_down_) return;
      self->shutting_down_ = true;
      self->SubmitGoaway();
      self->SendPending();
    });
  }

  void ForceClose() override {
    asio::post(executor(),
               [self = this->shared_from_this()] { self->Close(); });
  }

  // The exchange's calls (see ConnectionExchange).
  void OnRespond(int32_t id, const std::shared_ptr<ExchangeState>& state,
                 HttpResponse response) {
    H2Stream* stream = Find(id, state);
    if (stream == nullptr) return;
    SubmitResponse(stream, response.status, response.headers,
                   std::move(response.body));
    SendPending();
  }

  void OnStartStream(int32_t id, const std::shared_ptr<ExchangeState>& state,
                     int status, HttpHeaders headers) {
    H2Stream* stream = Find(id, state);
    if (stream == nullptr) return;
    SubmitResponse(stream, status, headers, std::nullopt);
    SendPending();
  }

  void OnWrite(int32_t id, const std::shared_ptr<ExchangeState>& state,
               std::string data) {
    H2Stream* stream = Find(id, state);
    if (stream == nullptr || !stream->stream_body || stream->eof ||
        data.empty()) {
      state->Release(data.size());
      return;
    }
    stream->out.push_back(std::move(data));
    Resume(stream);
    SendPending();
  }

  void OnFinish(int32_t id, const std::shared_ptr<ExchangeState>& state) {
    H2Stream* stream = Find(id, state);
    if (stream == nullptr) return;
    stream->eof = true;
    Resume(stream);
    SendPending();
  }

  void OnReset(int32_t id, const std::shared_ptr<ExchangeState>& state) {
    if (Find(id, state) == nullptr) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    SendPending();
  }

  void OnAbandon(int32_t id, const std::shared_ptr<ExchangeState>& state) {
    H2Stream* stream = Find(id, state);
    if (stream == nullptr) return;
    if (state->answered.load()) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id,
                                NGHTTP2_INTERNAL_ERROR);
    } else {
      SubmitResponse(stream, 500, {{"content-type", "application/json"}},
                     JsonDetail("The server dropped the request unanswered"));
    }
    SendPending();
  }

 private:
  bool CreateSession() {
    nghttp2_session_callbacks* callbacks;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks,
                                                            &OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks,
                                                         &OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks,
                                                              &OnDataChunkRecv);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks,
                                                         &OnFrameSend);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks,
                                                           &OnStreamClose);
    // nghttp2's defaults already bound SETTINGS, PING and RST_STREAM floods,
    // outbound ACKs, and CONTINUATION frames per header block.
    int rv = nghttp2_session_server_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) {
      session_ = nullptr;
      return false;
    }
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
         options_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<uint32_t>(
             std::min<size_t>(options_.max_header_bytes, UINT32_MAX))},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
    };
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings,
                                sizeof(settings) / sizeof(settings[0])) != 0 ||
        nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                              kConnectionWindow) != 0) {
      return false;
    }
    return true;
  }

  void Read() {
    stream_.async_read_some(asio::buffer(read_buffer_),
                            [self = this->shared_from_this()](
                                boost::system::error_code error, size_t n) {
                              if (self->closed_) return;
                              if (error) {
                                self->Close();
                                return;
                              }
                              self->Receive(self->read_buffer_.data(), n);
                              self->SendPending();
                              if (!self->closed_ && !self->stop_reading_ &&
                                  nghttp2_session_want_read(self->session_)) {
                                self->Read();
                              }
                            });
  }

  void Receive(const uint8_t* data, size_t size) {
    ssize_t rv = nghttp2_session_mem_recv(session_, data, size);
    if (rv < 0) {
      // A connection error (bad preface, flood, broken framing): nghttp2 has
      // queued a GOAWAY if it could; send what is queued, then close.
      stop_reading_ = true;
    }
  }

  // Writes nghttp2's pending output, if no write is in progress; closes the
  // connection once the session has nothing more to read or write.
  void SendPending() {
    if (writing_ || closed_) return;
    write_buffer_.clear();
    while (write_buffer_.size() < kWriteBatch) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        Close();
        return;
      }
      if (n == 0) break;
      write_buffer_.append(reinterpret_cast<const char*>(data), n);
    }
    if (write_buffer_.empty()) {
      if (stop_reading_ || (!nghttp2_session_want_read(session_) &&
                            !nghttp2_session_want_write(session_))) {
        Close();
      }
      return;
    }
    writing_ = true;
    write_started_ = Clock::now();
    asio::async_write(stream_, asio::buffer(write_buffer_),
                      [self = this->shared_from_this()](
                          boost::system::error_code error, size_t) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        if (error) {
                          self->Close();
                          return;
                        }
                        self->SendPending();
                      });
  }

  void SubmitGoaway() {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }

  // Deadlines of incomplete requests, the idle timeout, and writes that do
  // not progress, checked a few times per shortest timeout.
  void ArmSweep() {
    absl::Duration shortest =
        std::min({options_.header_timeout, options_.body_timeout,
                  options_.idle_timeout});
    absl::Duration interval =
        std::clamp(shortest / 4, absl::Milliseconds(10), absl::Seconds(1));
    sweep_timer_.Arm(interval,
                     [self = this->shared_from_this()] { self->Sweep(); });
  }

  void Sweep() {
    if (closed_) return;
    Clock::time_point now = Clock::now();
    if (writing_ &&
        now - write_started_ > PhaseTimer::ToChrono(options_.idle_timeout)) {
      Close();
      return;
    }
    for (auto& [id, stream] : streams_) {
      if (!stream->dispatched && !stream->rejected && now > stream->deadline) {
        stream->rejected = true;
        nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id,
                                  NGHTTP2_CANCEL);
      }
    }
    if (streams_.empty() && !terminating_ &&
        now - idle_since_ > PhaseTimer::ToChrono(options_.idle_timeout)) {
      terminating_ = true;
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    }
    SendPending();
    if (!closed_) ArmSweep();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    sweep_timer_.Cancel();
    for (auto& [id, stream] : streams_) {
      if (stream->exchange != nullptr) stream->exchange->cancelled = true;
      // Bodies still arriving are dropped with the connection.
      stream->body_reservation.Release();
    }
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_);
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
  }

  H2Stream* Find(int32_t id, const std::shared_ptr<ExchangeState>& state) {
    if (closed_) return nullptr;
    auto it = streams_.find(id);
    if (it == streams_.end() || it->second->exchange != state) return nullptr;
    return it->second.get();
  }

  H2Stream* StreamOf(int32_t id) {
    return static_cast<H2Stream*>(
        nghttp2_session_get_stream_user_data(session_, id));
  }

  void Resume(H2Stream* stream) {
    if (!stream->deferred) return;
    stream->deferred = false;
    nghttp2_session_resume_data(session_, stream->id);
  }

  // Submits the response head, and `whole_body` or, without one, a body
  // that the exchange's Write calls stream.
  void SubmitResponse(H2Stream* stream, int status, const HttpHeaders& headers,
                      std::optional<std::string> whole_body) {
    status = ValidFinalStatus(status);
    bool no_body = status == 204 || status == 304;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(headers.size() + 3);
    fields.emplace_back(":status", absl::StrCat(status));
    bool has_server = false;
    for (const auto& [name, value] : headers) {
      std::string lower = absl::AsciiStrToLower(name);
      if (lower.empty() || lower[0] == ':' || IsTransportHeader(lower) ||
          !IsSafeHeaderText(lower) || !IsSafeHeaderText(value)) {
        continue;
      }
      if (lower == "server") has_server = true;
      fields.emplace_back(std::move(lower), value);
    }
    if (!has_server) fields.emplace_back("server", "asap");

    bool has_data;
    if (whole_body.has_value()) {
      if (!no_body) {
        fields.emplace_back("content-length", absl::StrCat(whole_body->size()));
      }
      has_data = !no_body && !stream->head && !whole_body->empty();
      if (has_data) stream->out.push_back(std::move(*whole_body));
      stream->eof = true;
    } else {
      has_data = !no_body && !stream->head;
      stream->streaming = true;
      stream->stream_body = has_data;
    }

    std::vector<nghttp2_nv> nv;
    nv.reserve(fields.size());
    for (auto& [name, value] : fields) {
      nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(name.data()),
                              reinterpret_cast<uint8_t*>(value.data()),
                              name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider;
    provider.source.ptr = stream;
    provider.read_callback = &ReadData;
    nghttp2_submit_response(session_, stream->id, nv.data(), nv.size(),
                            has_data ? &provider : nullptr);
  }

  // The transport's own answer (413, 431): the request goes no further.
  void Reject(H2Stream* stream, int status, absl::string_view detail) {
    Reject(
        stream,
        {status, {{"content-type", "application/json"}}, JsonDetail(detail)});
  }
  void Reject(H2Stream* stream, HttpResponse response) {
    stream->rejected = true;
    stream->deadline = Clock::time_point::max();
    std::string().swap(stream->request.body);
    stream->body_reservation.Release();
    SubmitResponse(stream, response.status, response.headers,
                   std::move(response.body));
  }

  // The request's body does not fit in the listener's body budget.
  void RefuseBusy(H2Stream* stream) {
    slot_.core().CountRefusedBusy();
    Reject(stream, BodyBudgetExhaustedResponse());
  }

  void Dispatch(H2Stream* stream) {
    if (stream->dispatched || stream->rejected) return;
    stream->dispatched = true;
    stream->deadline = Clock::time_point::max();
    stream->exchange =
        std::make_shared<ExchangeState>(options_.max_stream_buffer_bytes);
    // The body's bytes count until the exchange is answered or dropped.
    stream->exchange->body_reservation = std::move(stream->body_reservation);
    HttpRequest request = std::move(stream->request);
    if (!request.header("host").has_value() && !stream->authority.empty()) {
      request.headers.emplace_back("host", stream->authority);
    }
    info_.FillRequest(request);
    request.http2 = true;
    stream->head = request.method == "HEAD";
    slot_.core().CountRequest();
    slot_.core().app().Handle(
        std::move(request),
        std::make_shared<ConnectionExchange<Self>>(
            this->weak_from_this(), stream->id, stream->exchange));
  }

  // nghttp2 callbacks.

  static int OnBeginHeaders(nghttp2_session* session,
                            const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    Self* self = static_cast<Self*>(user_data);
    auto stream = std::make_unique<H2Stream>();
    stream->id = frame->hd.stream_id;
    stream->body_reservation =
        BodyReservation(self->slot_.core().body_budget());
    stream->deadline =
        Clock::now() + PhaseTimer::ToChrono(self->options_.header_timeout);
    nghttp2_session_set_stream_user_data(session, stream->id, stream.get());
    self->streams_[stream->id] = std::move(stream);
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame,
                      const uint8_t* name, size_t name_length,
                      const uint8_t* value, size_t value_length, uint8_t,
                      void* user_data) {
    Self* self = static_cast<Self*>(user_data);
    // Trailers (a second HEADERS frame) are read and dropped.
    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    H2Stream* stream = self->StreamOf(frame->hd.stream_id);
    if (stream == nullptr || stream->header_too_large) return 0;
    // RFC 9113 counts 32 bytes of overhead per field.
    stream->header_bytes += name_length + value_length + 32;
    if (stream->header_bytes > self->options_.max_header_bytes) {
      stream->header_too_large = true;
      stream->request = HttpRequest();
      return 0;
    }
    absl::string_view key(reinterpret_cast<const char*>(name), name_length);
    std::string text(reinterpret_cast<const char*>(value), value_length);
    if (key == ":method") {
      stream->request.method = std::move(text);
    } else if (key == ":path") {
      stream->request.target = std::move(text);
    } else if (key == ":authority") {
      stream->authority = std::move(text);
    } else if (!key.empty() && key[0] != ':') {
      stream->request.headers.emplace_back(std::string(key), std::move(text));
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame,
                         void* user_data) {
    Self* self = static_cast<Self*>(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
      return 0;
    }
    H2Stream* stream = self->StreamOf(frame->hd.stream_id);
    if (stream == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS &&
        frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      if (stream->header_too_large) {
        self->Reject(stream, 431, "Request header fields too large");
      } else if (std::optional<absl::string_view> length =
                     stream->request.header("content-length")) {
        uint64_t declared;
        if (absl::SimpleAtoi(*length, &declared)) {
          if (declared > self->options_.max_body_bytes) {
            self->Reject(
                stream, 413,
                BodyTooLargeDetail(declared, self->options_.max_body_bytes));
          } else if (!stream->body_reservation.GrowTo(
                         static_cast<size_t>(declared))) {
            // Refused before any of the body is read.
            self->RefuseBusy(stream);
          }
        }
      }
      if (!stream->rejected) {
        stream->deadline =
            Clock::now() + PhaseTimer::ToChrono(self->options_.body_timeout);
      }
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
      stream->request_ended = true;
      self->Dispatch(stream);
    }
    return 0;
  }

  static int OnDataChunkRecv(nghttp2_session*, uint8_t, int32_t stream_id,
                             const uint8_t* data, size_t length,
                             void* user_data) {
    Self* self = static_cast<Self*>(user_data);
    H2Stream* stream = self->StreamOf(stream_id);
    if (stream == nullptr || stream->rejected || stream->dispatched) return 0;
    if (stream->request.body.size() + length > self->options_.max_body_bytes) {
      self->Reject(
          stream, 413,
          BodyTooLargeDetail(std::nullopt, self->options_.max_body_bytes));
      return 0;
    }
    // Within a declared length this is already reserved; without one the
    // reservation grows in steps.
    if (!stream->body_reservation.Cover(stream->request.body.size() + length,
                                        self->options_.max_body_bytes)) {
      self->RefuseBusy(stream);
      return 0;
    }
    stream->request.body.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame,
                         void* user_data) {
    Self* self = static_cast<Self*>(user_data);
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      return 0;
    }
    H2Stream* stream = self->StreamOf(frame->hd.stream_id);
    if (stream == nullptr) return 0;
    stream->response_ended = true;
    // A complete answer to a request still being uploaded: ask the client
    // to stop sending it (RFC 9113, section 8.1).
    if (stream->rejected && !stream->request_ended) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream->id,
                                NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t,
                           void* user_data) {
    Self* self = static_cast<Self*>(user_data);
    auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end()) return 0;
    H2Stream& stream = *it->second;
    if (stream.exchange != nullptr && !stream.response_ended) {
      stream.exchange->cancelled = true;
    }
    self->streams_.erase(it);
    if (self->streams_.empty()) self->idle_since_ = Clock::now();
    return 0;
  }

  static ssize_t ReadData(nghttp2_session*, int32_t, uint8_t* buffer,
                          size_t length, uint32_t* data_flags,
                          nghttp2_data_source* source, void*) {
    H2Stream* stream = static_cast<H2Stream*>(source->ptr);
    size_t copied = 0;
    while (copied < length && !stream->out.empty()) {
      const std::string& front = stream->out.front();
      size_t n = std::min(length - copied, front.size() - stream->out_offset);
      std::memcpy(buffer + copied, front.data() + stream->out_offset, n);
      copied += n;
      stream->out_offset += n;
      if (stream->out_offset == front.size()) {
        stream->out.pop_front();
        stream->out_offset = 0;
      }
    }
    // Streamed bytes stop counting against the exchange's bound once
    // nghttp2 has them: from here on, the flow-control window and the
    // write batch bound them.
    if (stream->streaming && stream->exchange != nullptr && copied > 0) {
      stream->exchange->Release(copied);
    }
    if (stream->out.empty() && stream->eof) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(copied);
    }
    if (copied == 0) {
      stream->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(copied);
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
  PhaseTimer sweep_timer_;
  std::string received_;  // until Start feeds it to the session

  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;

  std::array<uint8_t, kReadChunk> read_buffer_;
  std::string write_buffer_;
  bool writing_ = false;
  Clock::time_point write_started_;
  Clock::time_point idle_since_;

  bool closed_ = false;
  bool shutting_down_ = false;
  bool stop_reading_ = false;
  bool terminating_ = false;
};

}  // namespace

void ServeHttp2(boost::asio::ip::tcp::socket socket, ConnectionSlot slot,
                std::string received, ConnectionInfo info) {
  std::make_shared<Http2Connection<boost::asio::ip::tcp::socket>>(
      std::move(socket), std::move(slot), std::move(received), std::move(info))
      ->Start();
}

void ServeHttp2(TlsStream stream, ConnectionSlot slot, std::string received,
                ConnectionInfo info) {
  std::make_shared<Http2Connection<TlsStream>>(
      std::move(stream), std::move(slot), std::move(received), std::move(info))
      ->Start();
}

}  // namespace http_internal
}  // namespace asap
