// Internals of the HTTP transport shared by the listener and its connection
// classes (http1_connection.cc, http2_connection.cc). Not for users of the
// transport: they include server/http/http_listener.h.
//
// Lifetimes: the ListenerCore (io_context, options, connection registry)
// is shared by the listener and every connection, so it outlives them all.
// A connection is owned by its pending asynchronous operations
// (shared_from_this); the registry and the exchanges handed to the
// application hold it only weakly, so a connection dies as soon as its
// socket is closed and its last handler has run, and an exchange used after
// that is a no-op.
#ifndef ASAP_SERVER_HTTP_HTTP_CONNECTION_H_
#define ASAP_SERVER_HTTP_HTTP_CONNECTION_H_

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/http/http_exchange.h"
#include "server/http/http_listener.h"

namespace asap {
namespace http_internal {

// What the listener needs of every open connection. Both calls are
// thread-safe: they post onto the connection's strand.
class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // Refuse new requests, finish the ones in flight, then close.
  virtual void BeginShutdown() = 0;
  // Close now; exchanges in flight become cancelled.
  virtual void ForceClose() = 0;
};

class ListenerCore;
class ServerTlsContext;

// What a connection knows of its client, copied into every request it
// hands to the application.
struct ConnectionInfo {
  std::string peer;  // PeerString
  bool tls = false;
  // HttpRequest::peer_certificate_uris: only from a verified certificate.
  std::vector<std::string> peer_certificate_uris;
  // The context of a TLS connection's stream, kept for the connection's
  // life: ListenerCore::ReloadTls replaces the listener's, not this one.
  std::shared_ptr<ServerTlsContext> tls_context;

  // Sets the request fields that come from the connection.
  void FillRequest(HttpRequest& request) const {
    request.peer = peer;
    request.tls = tls;
    request.peer_certificate_uris = peer_certificate_uris;
  }
};

// HttpListenerOptions::max_buffered_body_bytes: the bytes of request bodies
// the transport is receiving or holding, across all of a listener's
// connections and streams. Lock-free; thread-safe.
class BodyBudget {
 public:
  // `limit` 0 is unbounded (the bytes are still counted).
  explicit BodyBudget(size_t limit) : limit_(limit) {}

  // Takes `n` bytes; false (and nothing taken) when they do not fit.
  bool TryReserve(size_t n) {
    size_t current = in_use_.load(std::memory_order_relaxed);
    do {
      if (limit_ != 0 && (n > limit_ || current > limit_ - n)) return false;
    } while (!in_use_.compare_exchange_weak(current, current + n,
                                            std::memory_order_relaxed));
    return true;
  }
  void Release(size_t n) { in_use_.fetch_sub(n, std::memory_order_relaxed); }

  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> in_use_{0};
};

// A body that does not declare its length reserves in steps of this many
// bytes as it arrives, rather than at every DATA frame or chunk.
inline constexpr size_t kBodyReserveStep = 64 * 1024;

// One request body's share of a BodyBudget, given back by Release or the
// destructor. Keeps the budget alive, so it may outlive the listener (in an
// exchange the application still holds). Not thread-safe: it is used on its
// connection's strand, then by the ExchangeState it moves into.
class BodyReservation {
 public:
  BodyReservation() = default;
  explicit BodyReservation(std::shared_ptr<BodyBudget> budget)
      : budget_(std::move(budget)) {}
  BodyReservation(BodyReservation&& other) noexcept
      : budget_(std::move(other.budget_)),
        bytes_(std::exchange(other.bytes_, 0)) {}
  BodyReservation& operator=(BodyReservation&& other) noexcept {
    if (this != &other) {
      Release();
      budget_ = std::move(other.budget_);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  ~BodyReservation() { Release(); }

  // Holds at least `total` bytes; false (and the reservation unchanged) when
  // the budget has no room for the difference.
  bool GrowTo(size_t total) {
    if (total <= bytes_) return true;
    if (budget_ == nullptr || !budget_->TryReserve(total - bytes_)) {
      return false;
    }
    bytes_ = total;
    return true;
  }
  // GrowTo for a body that has reached `size` bytes and may reach `cap`:
  // rounds up to the next kBodyReserveStep, but not past `cap`.
  bool Cover(size_t size, size_t cap) {
    if (size <= bytes_) return true;
    size_t stepped =
        size + (kBodyReserveStep - size % kBodyReserveStep) % kBodyReserveStep;
    return GrowTo(std::max(size, std::min(stepped, cap)));
  }
  void Release() {
    if (bytes_ != 0) budget_->Release(bytes_);
    bytes_ = 0;
  }

  size_t bytes() const { return bytes_; }

 private:
  std::shared_ptr<BodyBudget> budget_;
  size_t bytes_ = 0;
};

// One of HttpListenerOptions::max_connections places, held by a connection
// for its whole life. Also keeps the ListenerCore alive.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  explicit ConnectionSlot(std::shared_ptr<ListenerCore> core)
      : core_(std::move(core)) {}
  ConnectionSlot(ConnectionSlot&&) = default;
  ConnectionSlot& operator=(ConnectionSlot&& other);
  ~ConnectionSlot();

  ListenerCore& core() const { return *core_; }

 private:
  std::shared_ptr<ListenerCore> core_;
};

// The io_context, its threads, the acceptor and the registry of open
// connections: everything of the listener that connections refer to.
class ListenerCore : public std::enable_shared_from_this<ListenerCore> {
 public:
  ListenerCore(HttpListenerOptions options, HttpApplication* app);
  ~ListenerCore();

  // With options().tls enabled, builds the TLS context; before Bind.
  absl::Status InitTls();
  // Binds and listens; then Run starts the accept loop and the threads.
  absl::Status Bind();
  void Run();
  void Shutdown(absl::Duration grace);

  const HttpListenerOptions& options() const { return options_; }
  HttpApplication& app() const { return *app_; }
  boost::asio::io_context& io_context() { return io_context_; }
  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }

  // Adds `connection` to the set Shutdown reaches. Returns false when the
  // listener is already shutting down: the connection should then finish
  // at once. `key` is removed by Unregister (from its destructor).
  bool Register(ServerConnection* key, std::weak_ptr<ServerConnection> weak);
  void Unregister(ServerConnection* key);

  void CountRequest() { requests_.fetch_add(1, std::memory_order_relaxed); }
  void CountHttp2Connection() {
    http2_connections_.fetch_add(1, std::memory_order_relaxed);
  }
  void CountRefusedBusy() {
    refused_busy_.fetch_add(1, std::memory_order_relaxed);
  }
  void CountTlsHandshakeFailure() {
    tls_handshake_failures_.fetch_add(1, std::memory_order_relaxed);
  }

  // HttpListener::ReloadTls.
  absl::Status ReloadTls();
  // The TLS context for connections accepted now; null without TLS.
  std::shared_ptr<ServerTlsContext> tls_context() const;
  // Shared by the request bodies of all connections.
  const std::shared_ptr<BodyBudget>& body_budget() const {
    return body_budget_;
  }
  HttpListener::Stats stats() const;

 private:
  friend class ConnectionSlot;

  void Accept();
  void OnAccepted(boost::system::error_code error,
                  boost::asio::ip::tcp::socket socket);
  std::optional<ConnectionSlot> TryAcquireSlot();
  void ReleaseSlot();
  std::vector<std::shared_ptr<ServerConnection>> Snapshot()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AllClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return open_ == 0;
  }

  const HttpListenerOptions options_;
  HttpApplication* const app_;
  boost::asio::io_context io_context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      work_;
  boost::asio::strand<boost::asio::io_context::executor_type> accept_strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;  // after EMFILE and friends
  boost::asio::ip::tcp::endpoint endpoint_;
  std::vector<std::thread> threads_;

  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> http2_connections_{0};
  std::atomic<uint64_t> refused_busy_{0};
  std::atomic<uint64_t> tls_handshake_failures_{0};
  const std::shared_ptr<BodyBudget> body_budget_;

  // Replaced whole by ReloadTls; connections keep the one they started with.
  mutable absl::Mutex tls_mu_;
  std::shared_ptr<ServerTlsContext> tls_context_ ABSL_GUARDED_BY(tls_mu_);

  absl::Mutex shutdown_mu_;  // serializes Shutdown calls
  bool stopped_ ABSL_GUARDED_BY(shutdown_mu_) = false;

  mutable absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t open_ ABSL_GUARDED_BY(mu_) = 0;
  std::unordered_map<ServerConnection*, std::weak_ptr<ServerConnection>>
      connections_ ABSL_GUARDED_BY(mu_);
};

// The state an exchange shares with its connection. The atomics are read
// and written from the application's threads and the connection's strand.
struct ExchangeState {
  explicit ExchangeState(size_t stream_buffer_limit)
      : limit(stream_buffer_limit) {}

  // Accounts `n` more bytes of unsent streamed output; false (and nothing
  // accounted) when that would pass the limit.
  bool Reserve(size_t n) {
    size_t current = queued.load(std::memory_order_relaxed);
    do {
      if (current + n > limit) return false;
    } while (!queued.compare_exchange_weak(current, current + n,
                                           std::memory_order_relaxed));
    return true;
  }
  void Release(size_t n) { queued.fetch_sub(n, std::memory_order_relaxed); }

  // Gives the request body's reservation back to the listener's budget, once:
  // when the exchange is finished (Respond, Finish) or dropped. Until then
  // the application may hold the body. Thread-safe.
  void ReleaseBody() {
    if (!body_released.exchange(true)) body_reservation.Release();
  }

  const size_t limit;
  // Set by the connection before the exchange reaches the application;
  // afterwards only ReleaseBody (and the destructor) touch it.
  BodyReservation body_reservation;
  std::atomic<bool> body_released{false};
  std::atomic<size_t> queued{0};
  std::atomic<bool> cancelled{false};
  std::atomic<bool> answered{false};   // Respond or StartStream called
  std::atomic<bool> streaming{false};  // StartStream called
  std::atomic<bool> finished{false};   // Respond or Finish called
};

// The HttpExchange of both protocols. Every call posts onto the
// connection's strand, where Connection (Http1Connection, Http2Connection)
// applies it with these members, all called with the exchange's `stream_id`
// and state, which the connection checks against the exchange it is
// serving:
//   OnRespond(int32_t, const std::shared_ptr<ExchangeState>&, HttpResponse)
//   OnStartStream(int32_t, const std::shared_ptr<ExchangeState>&, int,
//                 HttpHeaders)
//   OnWrite(int32_t, const std::shared_ptr<ExchangeState>&, std::string)
//     (the bytes were Reserve()d; the connection Release()s them once sent)
//   OnFinish(int32_t, const std::shared_ptr<ExchangeState>&)
//   OnReset(int32_t, const std::shared_ptr<ExchangeState>&)
//   OnAbandon(int32_t, const std::shared_ptr<ExchangeState>&)
//     (the application dropped the exchange without finishing it)
template <typename Connection>
class ConnectionExchange final : public HttpExchange {
 public:
  ConnectionExchange(std::weak_ptr<Connection> connection, int32_t stream_id,
                     std::shared_ptr<ExchangeState> state)
      : connection_(std::move(connection)),
        stream_id_(stream_id),
        state_(std::move(state)) {}

  ~ConnectionExchange() override {
    state_->ReleaseBody();
    if (!state_->finished.load()) {
      Post([](Connection& c, int32_t id,
              const std::shared_ptr<ExchangeState>& s) { c.OnAbandon(id, s); });
    }
  }

  void Respond(HttpResponse response) override {
    if (state_->answered.exchange(true)) return;
    state_->finished = true;
    state_->ReleaseBody();
    Post([response = std::move(response)](
             Connection& c, int32_t id,
             const std::shared_ptr<ExchangeState>& s) mutable {
      c.OnRespond(id, s, std::move(response));
    });
  }

  void StartStream(int status, HttpHeaders headers) override {
    if (state_->answered.exchange(true)) return;
    state_->streaming = true;
    Post([status, headers = std::move(headers)](
             Connection& c, int32_t id,
             const std::shared_ptr<ExchangeState>& s) mutable {
      c.OnStartStream(id, s, status, std::move(headers));
    });
  }

  bool Write(std::string data) override {
    if (!state_->streaming.load() || state_->finished.load() ||
        state_->cancelled.load()) {
      return false;
    }
    if (!state_->Reserve(data.size())) {
      state_->cancelled = true;
      Post([](Connection& c, int32_t id,
              const std::shared_ptr<ExchangeState>& s) { c.OnReset(id, s); });
      return false;
    }
    if (!Post([data = std::move(data)](
                  Connection& c, int32_t id,
                  const std::shared_ptr<ExchangeState>& s) mutable {
          c.OnWrite(id, s, std::move(data));
        })) {
      state_->cancelled = true;
      return false;
    }
    return true;
  }

  void Finish() override {
    if (!state_->streaming.load() || state_->finished.exchange(true)) return;
    state_->ReleaseBody();
    Post([](Connection& c, int32_t id,
            const std::shared_ptr<ExchangeState>& s) { c.OnFinish(id, s); });
  }

  bool IsCancelled() const override { return state_->cancelled.load(); }

 private:
  // Runs `apply` on the connection's strand, if the connection still
  // exists; returns false if it does not. The posted handler holds the
  // connection weakly: work queued on an io_context that no longer runs must
  // not keep the connection (and through it the io_context) alive.
  template <typename Apply>
  bool Post(Apply apply) {
    std::shared_ptr<Connection> connection = connection_.lock();
    if (connection == nullptr) {
      state_->cancelled = true;
      return false;
    }
    boost::asio::post(connection->executor(),
                      [weak = connection_, id = stream_id_, state = state_,
                       apply = std::move(apply)]() mutable {
                        if (std::shared_ptr<Connection> c = weak.lock()) {
                          apply(*c, id, state);
                        }
                      });
    return true;
  }

  const std::weak_ptr<Connection> connection_;
  const int32_t stream_id_;
  const std::shared_ptr<ExchangeState> state_;
};

// A steady_timer deadline for one connection phase at a time. Arm replaces
// the previous deadline; a stale expiry never fires the callback.
class PhaseTimer {
 public:
  template <typename Executor>
  explicit PhaseTimer(const Executor& executor) : timer_(executor) {}

  // Calls `on_expiry` (on the timer's executor) after `duration` unless Arm
  // or Cancel is called first. `on_expiry` should hold its connection.
  template <typename Callback>
  void Arm(absl::Duration duration, Callback on_expiry) {
    uint64_t generation = ++generation_;
    timer_.expires_after(ToChrono(duration));
    timer_.async_wait([this, generation, on_expiry = std::move(on_expiry)](
                          boost::system::error_code error) mutable {
      // `on_expiry` keeps the owner (and so this timer) alive.
      if (error || generation != generation_) return;
      on_expiry();
    });
  }
  void Cancel() {
    ++generation_;
    timer_.cancel();
  }

  static std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
    // Infinite and huge durations would overflow the clock.
    const absl::Duration kMax = absl::Hours(24 * 365);
    if (d > kMax) d = kMax;
    if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        absl::ToChronoNanoseconds(d));
  }

 private:
  boost::asio::steady_timer timer_;
  uint64_t generation_ = 0;
};

// The JSON body of the transport's own error answers: {"detail":"..."}.
std::string JsonDetail(absl::string_view detail);
// The transport's 503 to a request whose body does not fit in
// HttpListenerOptions::max_buffered_body_bytes (JSON body, Retry-After).
HttpResponse BodyBudgetExhaustedResponse();
// The detail of a 413: the declared size when known, else "more than".
std::string BodyTooLargeDetail(std::optional<uint64_t> declared, size_t limit);

// True for header fields that are the transport's business (framing and
// connection management), which an application's response must not set.
bool IsTransportHeader(absl::string_view lower_case_name);
// True if `value` may go on the wire as a header name or value (no CR, LF
// or NUL that would split or end the header block).
bool IsSafeHeaderText(absl::string_view value);

// "ipv4:127.0.0.1:53422" / "ipv6:[::1]:53422", like gRPC's peer strings.
std::string PeerString(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace http_internal
}  // namespace asap

#endif  // ASAP_SERVER_HTTP_HTTP_CONNECTION_H_
