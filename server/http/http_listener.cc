#include "server/http/http_listener.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/http/http1_connection.h"
#include "server/http/http2_connection.h"
#include "server/http/http_connection.h"
#include "server/http/tls_context.h"

namespace asap {
namespace http_internal {
namespace {

namespace asio = boost::asio;
using boost::asio::ip::tcp;

// After a failed accept (out of file descriptors, typically), wait before
// the next one instead of spinning.
constexpr absl::Duration kAcceptRetryDelay = absl::Milliseconds(50);
// After a forced close, how long Shutdown waits for the connections'
// handlers to run before it stops the io_context regardless.
constexpr absl::Duration kForcedCloseWait = absl::Seconds(5);

// Reads the first bytes of a connection until they either are the HTTP/2
// client preface or cannot be, then hands the stream (and the bytes) to the
// HTTP/2 or the HTTP/1 connection. With `http2_allowed` false (TLS with ALPN
// "http/1.1") the first bytes only bound the wait for the first request by
// header_timeout, and HTTP/1 gets the stream.
template <typename Stream>
class ProtocolSniffer final
    : public ServerConnection,
      public std::enable_shared_from_this<ProtocolSniffer<Stream>> {
 public:
  ProtocolSniffer(Stream stream, ConnectionSlot slot, ConnectionInfo info,
                  std::shared_ptr<ListenerCore> core, bool http2_allowed)
      : core_(std::move(core)),
        slot_(std::move(slot)),
        info_(std::move(info)),
        http2_allowed_(http2_allowed),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()) {}

  ~ProtocolSniffer() override { core_->Unregister(this); }

  typename Stream::executor_type executor() { return stream_.get_executor(); }

  void Start() {
    if (!core_->Register(this, this->weak_from_this())) {
      Close();
      return;
    }
    // A client that connects and sends nothing is a slowloris too.
    timer_.Arm(core_->options().header_timeout,
               [self = this->shared_from_this()] { self->Close(); });
    Read();
  }

  void BeginShutdown() override { ForceClose(); }
  void ForceClose() override {
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this()] { self->Close(); });
  }

 private:
  using Serve = void (*)(Stream, ConnectionSlot, std::string, ConnectionInfo);

  void Read() {
    size_t old_size = received_.size();
    received_.resize(kHttp2Preface.size());
    stream_.async_read_some(
        asio::buffer(&received_[old_size], received_.size() - old_size),
        [self = this->shared_from_this(), old_size](
            boost::system::error_code error, size_t n) {
          self->received_.resize(old_size + n);
          self->OnRead(error);
        });
  }

  void OnRead(boost::system::error_code error) {
    if (closed_) return;
    if (error) {
      Close();
      return;
    }
    absl::string_view preface_part = kHttp2Preface.substr(0, received_.size());
    if (!http2_allowed_ || received_ != preface_part) {
      HandOver(&ServeHttp1);
    } else if (received_.size() == kHttp2Preface.size()) {
      core_->CountHttp2Connection();
      HandOver(&ServeHttp2);
    } else {
      Read();
    }
  }

  void HandOver(Serve serve) {
    closed_ = true;
    timer_.Cancel();
    serve(std::move(stream_), std::move(slot_), std::move(received_),
          std::move(info_));
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.Cancel();
    boost::system::error_code ignored;
    auto& socket = boost::beast::get_lowest_layer(stream_);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  // First, so destroyed last: they keep the io_context of the stream and
  // timer alive. core_ is kept after slot_ moves on with the stream.
  const std::shared_ptr<ListenerCore> core_;
  ConnectionSlot slot_;
  ConnectionInfo info_;
  const bool http2_allowed_;
  Stream stream_;
  PhaseTimer timer_;
  std::string received_;
  bool closed_ = false;
};

// The TLS handshake of a connection on a TLS listener, bounded by
// header_timeout. Then ALPN decides: "h2" goes to HTTP/2; "http/1.1" to
// HTTP/1 (through a ProtocolSniffer that only bounds the wait for the first
// request); no ALPN to a ProtocolSniffer that also accepts the HTTP/2
// preface (prior knowledge).
class TlsHandshaker final : public ServerConnection,
                            public std::enable_shared_from_this<TlsHandshaker> {
 public:
  TlsHandshaker(tcp::socket socket, std::shared_ptr<ServerTlsContext> context,
                ConnectionSlot slot, std::string peer,
                std::shared_ptr<ListenerCore> core)
      : core_(std::move(core)),
        slot_(std::move(slot)),
        peer_(std::move(peer)),
        context_(std::move(context)),
        stream_(std::move(socket), context_->context()),
        timer_(stream_.get_executor()) {}

  ~TlsHandshaker() override { core_->Unregister(this); }

  TlsStream::executor_type executor() { return stream_.get_executor(); }

  void Start() {
    if (!core_->Register(this, weak_from_this())) {
      Close();
      return;
    }
    timer_.Arm(core_->options().header_timeout, [self = shared_from_this()] {
      if (self->closed_) return;
      self->core_->CountTlsHandshakeFailure();
      self->Close();
    });
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        [self = shared_from_this()](boost::system::error_code error) {
          self->OnHandshake(error);
        });
  }

  void BeginShutdown() override { ForceClose(); }
  void ForceClose() override {
    asio::post(stream_.get_executor(),
               [self = shared_from_this()] { self->Close(); });
  }

 private:
  void OnHandshake(boost::system::error_code error) {
    if (closed_) return;
    if (error) {
      // Counted before the close: a client that sees the connection end
      // sees the count too.
      core_->CountTlsHandshakeFailure();
      Close();
      return;
    }
    closed_ = true;
    timer_.Cancel();
    SSL* ssl = stream_.native_handle();
    ConnectionInfo info;
    info.peer = std::move(peer_);
    info.tls = true;
    info.peer_certificate_uris =
        VerifiedPeerCertificateUris(ssl, context_->verifies_clients());
    info.tls_context = context_;
    absl::string_view alpn = SelectedAlpn(ssl);
    if (alpn == "h2") {
      core_->CountHttp2Connection();
      ServeHttp2(std::move(stream_), std::move(slot_), std::string(),
                 std::move(info));
      return;
    }
    auto sniffer = std::make_shared<ProtocolSniffer<TlsStream>>(
        std::move(stream_), std::move(slot_), std::move(info), core_,
        /*http2_allowed=*/alpn.empty());
    sniffer->Start();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.Cancel();
    boost::system::error_code ignored;
    tcp::socket& socket = stream_.next_layer();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  // First, so destroyed last: they keep the io_context of the stream and
  // timer alive.
  const std::shared_ptr<ListenerCore> core_;
  ConnectionSlot slot_;
  std::string peer_;
  // Before stream_, which is made from it.
  const std::shared_ptr<ServerTlsContext> context_;
  TlsStream stream_;
  PhaseTimer timer_;
  bool closed_ = false;
};

}  // namespace

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) {
  if (this != &other) {
    if (core_ != nullptr) core_->ReleaseSlot();
    core_ = std::move(other.core_);
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() {
  if (core_ != nullptr) core_->ReleaseSlot();
}

std::string JsonDetail(absl::string_view detail) {
  // The transport's details are its own ASCII text; escaping quotes and
  // backslashes keeps the JSON valid whatever they contain.
  std::string escaped =
      absl::StrReplaceAll(detail, {{"\\", "\\\\"}, {"\"", "\\\""}});
  return absl::StrCat("{\"detail\":\"", escaped, "\"}");
}

HttpResponse BodyBudgetExhaustedResponse() {
  HttpResponse response;
  response.status = 503;
  response.headers = {{"Content-Type", "application/json"},
                      {"Retry-After", "1"}};
  response.body =
      "{\"error\":\"Service Unavailable\","
      "\"code\":\"asap:transport/resource_exhausted\","
      "\"message\":\"server busy: request bodies in flight at their "
      "limit\"}";
  return response;
}

std::string BodyTooLargeDetail(std::optional<uint64_t> declared, size_t limit) {
  if (declared.has_value()) {
    return absl::StrCat("Request body too large: ", *declared, " bytes (limit ",
                        limit, ")");
  }
  return absl::StrCat("Request body too large: more than ", limit,
                      " bytes (limit ", limit, ")");
}

bool IsTransportHeader(absl::string_view name) {
  return name == "content-length" || name == "transfer-encoding" ||
         name == "connection" || name == "keep-alive" || name == "upgrade" ||
         name == "proxy-connection" || name == "te" || name == "trailer";
}

bool IsSafeHeaderText(absl::string_view value) {
  return value.find_first_of(absl::string_view("\r\n\0", 3)) ==
         absl::string_view::npos;
}

std::string PeerString(const tcp::endpoint& endpoint) {
  const asio::ip::address& address = endpoint.address();
  if (address.is_v4()) {
    return absl::StrCat("ipv4:", address.to_string(), ":", endpoint.port());
  }
  return absl::StrCat("ipv6:[", address.to_string(), "]:", endpoint.port());
}

ListenerCore::ListenerCore(HttpListenerOptions options, HttpApplication* app)
    : options_(std::move(options)),
      app_(app),
      work_(io_context_.get_executor()),
      accept_strand_(io_context_.get_executor()),
      acceptor_(accept_strand_),
      accept_retry_(accept_strand_),
      body_budget_(
          std::make_shared<BodyBudget>(options_.max_buffered_body_bytes)) {}

ListenerCore::~ListenerCore() = default;

absl::Status ListenerCore::InitTls() {
  if (!options_.tls.enabled()) return absl::OkStatus();
  return ReloadTls();
}

absl::Status ListenerCore::ReloadTls() {
  if (!options_.tls.enabled()) {
    return absl::FailedPreconditionError(
        "the HTTP listener does not serve TLS (HttpListenerOptions::tls)");
  }
  absl::StatusOr<std::shared_ptr<ServerTlsContext>> context =
      ServerTlsContext::Create(options_.tls);
  if (!context.ok()) return context.status();
  // The previous context is released outside the lock: open connections may
  // still hold it.
  std::shared_ptr<ServerTlsContext> previous = *std::move(context);
  {
    absl::MutexLock lock(&tls_mu_);
    tls_context_.swap(previous);
  }
  return absl::OkStatus();
}

std::shared_ptr<ServerTlsContext> ListenerCore::tls_context() const {
  absl::MutexLock lock(&tls_mu_);
  return tls_context_;
}

absl::Status ListenerCore::Bind() {
  const std::string& address = options_.address;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP listen address has no port: ", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP listen address has a bad port: ", address));
  }
  if (options_.threads < 1 || options_.max_connections < 1 ||
      options_.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError(
        "HTTP listener needs threads, max_connections and "
        "max_concurrent_streams of at least 1");
  }
  boost::system::error_code error;
  asio::ip::address ip;
  if (host.empty() || host == "*") {
    ip = asio::ip::address_v6::any();
  } else if (absl::AsciiStrToLower(host) == "localhost") {
    ip = asio::ip::address_v4::loopback();
  } else {
    ip = asio::ip::make_address(host, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTP listen address has a bad host: ", address));
    }
  }
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  auto fail = [&](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat(
        "HTTP listener cannot ", what, " ", address, ": ", error.message()));
  };
  acceptor_.open(endpoint.protocol(), error);
  if (error) return fail("open");
  acceptor_.set_option(asio::socket_base::reuse_address(true), error);
  if (error) return fail("configure");
  acceptor_.bind(endpoint, error);
  if (error) return fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) return fail("listen on");
  endpoint_ = acceptor_.local_endpoint(error);
  if (error) return fail("read the bound address of");
  return absl::OkStatus();
}

void ListenerCore::Run() {
  asio::post(accept_strand_, [self = shared_from_this()] { self->Accept(); });
  threads_.reserve(options_.threads);
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { io_context_.run(); });
  }
}

void ListenerCore::Accept() {
  // Each connection gets a strand of its own: its handlers never run
  // concurrently, and different connections run in parallel.
  acceptor_.async_accept(
      asio::make_strand(io_context_),
      [self = shared_from_this()](boost::system::error_code error,
                                  tcp::socket socket) {
        self->OnAccepted(error, std::move(socket));
      });
}

void ListenerCore::OnAccepted(boost::system::error_code error,
                              tcp::socket socket) {
  if (!acceptor_.is_open()) return;
  if (error) {
    accept_retry_.expires_after(PhaseTimer::ToChrono(kAcceptRetryDelay));
    accept_retry_.async_wait(
        [self = shared_from_this()](boost::system::error_code error) {
          if (!error && self->acceptor_.is_open()) self->Accept();
        });
    return;
  }
  accepted_.fetch_add(1, std::memory_order_relaxed);
  std::optional<ConnectionSlot> slot = TryAcquireSlot();
  if (slot.has_value()) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    tcp::endpoint peer = socket.remote_endpoint(ignored);
    if (options_.tls.enabled()) {
      auto handshaker = std::make_shared<TlsHandshaker>(
          std::move(socket), tls_context(), std::move(*slot), PeerString(peer),
          shared_from_this());
      asio::post(handshaker->executor(), [handshaker] { handshaker->Start(); });
    } else {
      ConnectionInfo info;
      info.peer = PeerString(peer);
      auto sniffer = std::make_shared<ProtocolSniffer<tcp::socket>>(
          std::move(socket), std::move(*slot), std::move(info),
          shared_from_this(), /*http2_allowed=*/true);
      asio::post(sniffer->executor(), [sniffer] { sniffer->Start(); });
    }
  } else {
    // Over max_connections (or shutting down): closing at once costs the
    // least; the client sees a reset and may retry.
    boost::system::error_code ignored;
    socket.close(ignored);
  }
  Accept();
}

std::optional<ConnectionSlot> ListenerCore::TryAcquireSlot() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_ ||
      open_ >= static_cast<uint64_t>(options_.max_connections)) {
    return std::nullopt;
  }
  ++open_;
  return ConnectionSlot(shared_from_this());
}

void ListenerCore::ReleaseSlot() {
  absl::MutexLock lock(&mu_);
  --open_;
}

bool ListenerCore::Register(ServerConnection* key,
                            std::weak_ptr<ServerConnection> weak) {
  absl::MutexLock lock(&mu_);
  connections_[key] = std::move(weak);
  return !shutting_down_;
}

void ListenerCore::Unregister(ServerConnection* key) {
  absl::MutexLock lock(&mu_);
  connections_.erase(key);
}

std::vector<std::shared_ptr<ServerConnection>> ListenerCore::Snapshot() {
  std::vector<std::shared_ptr<ServerConnection>> result;
  result.reserve(connections_.size());
  for (const auto& [key, weak] : connections_) {
    if (std::shared_ptr<ServerConnection> connection = weak.lock()) {
      result.push_back(std::move(connection));
    }
  }
  return result;
}

void ListenerCore::Shutdown(absl::Duration grace) {
  absl::MutexLock shutdown_lock(&shutdown_mu_);
  if (stopped_) return;
  stopped_ = true;

  asio::post(accept_strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->accept_retry_.cancel();
  });

  // The snapshots are released outside mu_: dropping the last reference to
  // a connection runs its destructor, which takes mu_.
  std::vector<std::shared_ptr<ServerConnection>> connections;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    connections = Snapshot();
  }
  for (const auto& connection : connections) connection->BeginShutdown();
  connections.clear();

  {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &ListenerCore::AllClosed),
                         grace);
    connections = Snapshot();
  }
  for (const auto& connection : connections) connection->ForceClose();
  connections.clear();

  // With the acceptor and every socket closed, the threads run out of work
  // once the last handlers have run.
  work_.reset();
  bool all_closed;
  {
    absl::MutexLock lock(&mu_);
    all_closed = mu_.AwaitWithTimeout(
        absl::Condition(this, &ListenerCore::AllClosed), kForcedCloseWait);
  }
  if (!all_closed) io_context_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

HttpListener::Stats ListenerCore::stats() const {
  HttpListener::Stats stats;
  stats.connections_accepted = accepted_.load(std::memory_order_relaxed);
  stats.requests = requests_.load(std::memory_order_relaxed);
  stats.http2_connections = http2_connections_.load(std::memory_order_relaxed);
  stats.body_bytes_buffered = body_budget_->in_use();
  stats.requests_refused_busy = refused_busy_.load(std::memory_order_relaxed);
  stats.tls_handshake_failures =
      tls_handshake_failures_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  stats.connections_open = open_;
  return stats;
}

}  // namespace http_internal

absl::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Start(
    HttpListenerOptions options, HttpApplication* app) {
  if (app == nullptr) {
    return absl::InvalidArgumentError("HTTP listener needs an application");
  }
  auto core =
      std::make_shared<http_internal::ListenerCore>(std::move(options), app);
  if (absl::Status tls = core->InitTls(); !tls.ok()) return tls;
  absl::Status bound = core->Bind();
  if (!bound.ok()) return bound;
  core->Run();
  return std::unique_ptr<HttpListener>(new HttpListener(std::move(core)));
}

HttpListener::HttpListener(std::shared_ptr<http_internal::ListenerCore> core)
    : core_(std::move(core)) {}

HttpListener::~HttpListener() { core_->Shutdown(absl::ZeroDuration()); }

int HttpListener::port() const { return core_->endpoint().port(); }

std::string HttpListener::address() const {
  const boost::asio::ip::tcp::endpoint& endpoint = core_->endpoint();
  if (endpoint.address().is_v6()) {
    return absl::StrCat("[", endpoint.address().to_string(),
                        "]:", endpoint.port());
  }
  return absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
}

void HttpListener::Shutdown(absl::Duration grace) { core_->Shutdown(grace); }

absl::Status HttpListener::ReloadTls() { return core_->ReloadTls(); }

HttpListener::Stats HttpListener::stats() const { return core_->stats(); }

}  // namespace asap
