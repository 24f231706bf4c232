// HttpListener with TLS (HttpListenerOptions::tls) end to end on
// 127.0.0.1:0: HTTPS over HTTP/1.1 and HTTP/2 (ALPN) through libcurl, the
// handshake itself (ALPN, versions, client certificates) through an OpenSSL
// client, and refusals (plaintext, untrusted or expired certificates, a
// missing client certificate, a stalled handshake) through both and raw
// sockets. Keys and certificates are made by tests/testing/make_test_certs.sh
// when the suite starts; none is committed.
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/http/http_exchange.h"
#include "server/http/http_listener.h"
#include "tests/testing/runfiles.h"

namespace asap {
namespace {

namespace fs = std::filesystem;

// Bounds every wait of a client; no test waits this long unless it fails.
constexpr absl::Duration kTestTimeout = absl::Seconds(10);
constexpr absl::string_view kClientUri = "urn:asap:agent:tls-client";

// Paths:
//   /echo   200 with the body back (or "hello"), and what the transport
//           said of the connection in x-http2, x-tls and x-uris
//   /held   a streamed answer: one event now, the rest on FinishHeld()
class TlsTestApp final : public HttpApplication {
 public:
  void Handle(HttpRequest request,
              std::shared_ptr<HttpExchange> exchange) override {
    {
      absl::MutexLock lock(&mu_);
      last_uris_ = request.peer_certificate_uris;
      if (request.path() == "/held") held_.push_back(exchange);
    }
    if (request.path() == "/held") {
      // Held first, written second: a client that has the first event can
      // rely on FinishHeld reaching this exchange.
      exchange->StartStream(200, {{"content-type", "text/event-stream"}});
      exchange->Write("data: first\n\n");
      return;
    }
    HttpResponse response;
    response.headers = {
        {"content-type", "text/plain"},
        {"x-http2", request.http2 ? "1" : "0"},
        {"x-tls", request.tls ? "1" : "0"},
        {"x-uris", absl::StrJoin(request.peer_certificate_uris, ",")},
    };
    response.body = request.body.empty() ? "hello" : std::move(request.body);
    exchange->Respond(std::move(response));
  }

  // Ends the /held streams with a last event.
  void FinishHeld() {
    std::vector<std::shared_ptr<HttpExchange>> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    for (const auto& exchange : held) {
      exchange->Write("data: last\n\n");
      exchange->Finish();
    }
  }

  std::vector<std::string> LastUris() {
    absl::MutexLock lock(&mu_);
    return last_uris_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<HttpExchange>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> last_uris_ ABSL_GUARDED_BY(mu_);
};

// A TCP connection to 127.0.0.1:port whose blocking reads and writes give up
// after kTestTimeout; -1 if it cannot connect.
int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{};
  timeout.tv_sec = absl::ToInt64Seconds(kTestTimeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads from `fd` until the peer ends the connection (EOF or reset) and
// returns what arrived; nullopt if it is still open after kTestTimeout.
std::optional<std::string> ReadUntilClosed(int fd) {
  std::string received;
  absl::Time deadline = absl::Now() + kTestTimeout;
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd entry{fd, POLLIN, 0};
    int ready =
        poll(&entry, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buffer[4096];
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return received;  // EOF, or reset
    received.append(buffer, static_cast<size_t>(n));
  }
}

// A plain TCP client: what a TLS port does with bytes that are not TLS.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(ConnectTcp(port)) {}
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  bool Send(absl::string_view bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  std::optional<std::string> ReadUntilClosed() {
    return ::asap::ReadUntilClosed(fd_);
  }

 private:
  int fd_;
};

struct TlsClientOptions {
  std::string ca_file;  // empty: the server's certificate is not checked
  std::string cert_file;
  std::string key_file;
  std::vector<std::string> alpn;  // offered in this order; empty: no ALPN
  int max_version = 0;            // TLS1_1_VERSION, ...; 0: OpenSSL's
};

// A blocking OpenSSL client, to look at the handshake itself.
class TlsClient {
 public:
  TlsClient(int port, const TlsClientOptions& options)
      : fd_(ConnectTcp(port)), ctx_(SSL_CTX_new(TLS_client_method())) {
    if (options.max_version != 0) {
      // Old versions are off at OpenSSL's default security level: without
      // this the client would refuse before sending anything.
      SSL_CTX_set_security_level(ctx_, 0);
      SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
      SSL_CTX_set_min_proto_version(ctx_, 0);
      SSL_CTX_set_max_proto_version(ctx_, options.max_version);
    }
    if (!options.ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!options.cert_file.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(),
                                  SSL_FILETYPE_PEM);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (!options.alpn.empty()) {
      std::string wire;
      for (const std::string& protocol : options.alpn) {
        wire.push_back(static_cast<char>(protocol.size()));
        wire += protocol;
      }
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const uint8_t*>(wire.data()),
                          static_cast<unsigned int>(wire.size()));
    }
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
    ERR_clear_error();
  }

  bool Handshake() { return fd_ >= 0 && SSL_connect(ssl_) == 1; }

  std::string Alpn() const {
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &data, &length);
    return data == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(data), length);
  }
  int Version() const { return SSL_version(ssl_); }
  X509* PeerCertificate() const { return SSL_get0_peer_certificate(ssl_); }

  bool Write(absl::string_view bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }

  // Exactly `n` bytes, or nullopt when the connection ends or fails first.
  std::optional<std::string> ReadExactly(size_t n) {
    std::string bytes(n, '\0');
    size_t done = 0;
    while (done < n) {
      int read = SSL_read(ssl_, &bytes[done], static_cast<int>(n - done));
      if (read <= 0) return std::nullopt;
      done += static_cast<size_t>(read);
    }
    return bytes;
  }

  struct Ending {
    std::string received;
    // The server ended the TLS session with close_notify.
    bool close_notify = false;
  };
  // Reads until the connection ends, fails or kTestTimeout passes.
  Ending ReadToEnd() {
    Ending ending;
    char buffer[4096];
    for (;;) {
      int read = SSL_read(ssl_, buffer, sizeof(buffer));
      if (read > 0) {
        ending.received.append(buffer, static_cast<size_t>(read));
        continue;
      }
      ending.close_notify = SSL_get_error(ssl_, read) == SSL_ERROR_ZERO_RETURN;
      return ending;
    }
  }

  // After a failed handshake: true once the server has closed the TCP
  // connection (within kTestTimeout).
  bool ServerClosed() { return ReadUntilClosed(fd_).has_value(); }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
};

struct X509Deleter {
  void operator()(X509* x509) const { X509_free(x509); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr ReadCertificate(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  X509Ptr certificate(PEM_read_X509(file, nullptr, nullptr, nullptr));
  std::fclose(file);
  return certificate;
}

// The certificate a new connection to `port` is served (not verified).
X509Ptr ServedCertificate(int port) {
  TlsClient client(port, {});
  if (!client.Handshake() || client.PeerCertificate() == nullptr) {
    return nullptr;
  }
  return X509Ptr(X509_dup(client.PeerCertificate()));
}

TlsClientOptions OfferingAlpn(std::vector<std::string> alpn) {
  TlsClientOptions options;
  options.alpn = std::move(alpn);
  return options;
}

TlsClientOptions VerifyingWith(std::string ca_file, int max_version = 0) {
  TlsClientOptions options;
  options.ca_file = std::move(ca_file);
  options.max_version = max_version;
  return options;
}

bool SameCertificate(const X509Ptr& served, const std::string& pem_file) {
  X509Ptr expected = ReadCertificate(pem_file);
  return served != nullptr && expected != nullptr &&
         X509_cmp(served.get(), expected.get()) == 0;
}

struct Fetch {
  std::string path = "/echo";
  std::string body;  // POSTed when not empty
  bool http2 = false;
  std::string scheme = "https";
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Called with each piece of the response body as it arrives.
  std::function<void(absl::string_view)> on_data;
};

struct Fetched {
  CURLcode code = CURLE_OK;
  std::string error;
  long status = 0;
  long http_version = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

size_t OnCurlBody(char* data, size_t size, size_t count, void* user) {
  auto* context = static_cast<std::pair<Fetched*, const Fetch*>*>(user);
  absl::string_view piece(data, size * count);
  context->first->body.append(piece.data(), piece.size());
  if (context->second->on_data) context->second->on_data(piece);
  return size * count;
}

size_t OnCurlHeader(char* data, size_t size, size_t count, void* user) {
  auto* fetched = static_cast<Fetched*>(user);
  absl::string_view line(data, size * count);
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    fetched->headers[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * count;
}

// One request with libcurl to 127.0.0.1:port; verifying the server against
// `ca_file` when it is set.
Fetched Get(int port, const Fetch& fetch) {
  Fetched fetched;
  CURL* curl = curl_easy_init();
  std::string url =
      absl::StrCat(fetch.scheme, "://127.0.0.1:", port, fetch.path);
  char error[CURL_ERROR_SIZE] = {0};
  std::pair<Fetched*, const Fetch*> context(&fetched, &fetch);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(kTestTimeout)));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(
      curl, CURLOPT_HTTP_VERSION,
      fetch.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  if (!fetch.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, fetch.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  } else {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!fetch.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, fetch.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, fetch.key_file.c_str());
  }
  if (!fetch.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, fetch.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(fetch.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnCurlBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &context);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnCurlHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &fetched);
  fetched.code = curl_easy_perform(curl);
  fetched.error = error;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &fetched.status);
  curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &fetched.http_version);
  curl_easy_cleanup(curl);
  return fetched;
}

// Bytes of a streamed response body, gathered on curl's thread.
class BodySink {
 public:
  void Append(absl::string_view piece) {
    absl::MutexLock lock(&mu_);
    text_.append(piece.data(), piece.size());
  }
  // True once the body holds `part` (within kTestTimeout).
  bool AwaitContains(absl::string_view part) {
    absl::MutexLock lock(&mu_);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return absl::StrContains(text_, part);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&has), kTestTimeout);
  }

 private:
  absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

// Replaces `to` with a copy of `from` in one rename, as a deployment would.
void ReplaceFile(const std::string& from, const std::string& to) {
  std::string temporary = to + ".new";
  fs::copy_file(from, temporary, fs::copy_options::overwrite_existing);
  fs::rename(temporary, to);
}

class HttpTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    // Two independent sets (each its own CA): the second is what a
    // certificate reload switches to.
    absl::StatusOr<std::string> certs =
        testing::MakeTestCerts("http_tls_test/certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    absl::StatusOr<std::string> certs2 =
        testing::MakeTestCerts("http_tls_test/certs2");
    ASSERT_TRUE(certs2.ok()) << certs2.status();
    root_ = new std::string(absl::StripSuffix(*certs, "/certs"));
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
    curl_global_cleanup();
  }

  // A file of the first certificate set.
  static std::string File(const std::string& name) {
    return absl::StrCat(*root_, "/certs/", name);
  }
  static std::string File2(const std::string& name) {
    return absl::StrCat(*root_, "/certs2/", name);
  }

  // `cert` (server, expired) of the first set; with `client_ca`, client
  // certificates signed by its CA are required.
  static HttpListenerOptions Options(const std::string& cert,
                                     bool client_ca = false) {
    HttpListenerOptions options;
    options.address = "127.0.0.1:0";
    options.tls.cert_file = File(cert + ".pem");
    options.tls.key_file = File(cert + ".key");
    if (client_ca) options.tls.client_ca_file = File("ca.pem");
    return options;
  }

  void StartListener(HttpListenerOptions options) {
    absl::StatusOr<std::unique_ptr<HttpListener>> listener =
        HttpListener::Start(std::move(options), &app_);
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    port_ = listener_->port();
  }

  void TearDown() override {
    app_.FinishHeld();
    listener_.reset();
  }

  Fetch Trusting(std::string ca_file) {
    Fetch fetch;
    fetch.ca_file = std::move(ca_file);
    return fetch;
  }

  // Declared first: destroyed after the listener.
  TlsTestApp app_;
  std::unique_ptr<HttpListener> listener_;
  int port_ = 0;

  static std::string* root_;
};

std::string* HttpTlsTest::root_ = nullptr;

TEST_F(HttpTlsTest, ServesHttp1OverTls) {
  StartListener(Options("server"));
  Fetch fetch = Trusting(File("ca.pem"));
  fetch.body = "over tls";
  Fetched fetched = Get(port_, fetch);
  ASSERT_EQ(fetched.code, CURLE_OK) << fetched.error;
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.http_version, CURL_HTTP_VERSION_1_1);
  EXPECT_EQ(fetched.body, "over tls");
  EXPECT_EQ(fetched.headers["x-http2"], "0");
  EXPECT_EQ(fetched.headers["x-tls"], "1");
  // No client certificates asked for: no identity.
  EXPECT_EQ(fetched.headers["x-uris"], "");
  EXPECT_EQ(listener_->stats().http2_connections, 0u);
  EXPECT_EQ(listener_->stats().tls_handshake_failures, 0u);
}

TEST_F(HttpTlsTest, ServesHttp2ChosenByAlpn) {
  StartListener(Options("server"));
  Fetch fetch = Trusting(File("ca.pem"));
  fetch.http2 = true;
  fetch.body = "over h2";
  Fetched fetched = Get(port_, fetch);
  ASSERT_EQ(fetched.code, CURLE_OK) << fetched.error;
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.http_version, CURL_HTTP_VERSION_2_0);
  EXPECT_EQ(fetched.body, "over h2");
  EXPECT_EQ(fetched.headers["x-http2"], "1");
  EXPECT_EQ(fetched.headers["x-tls"], "1");
  EXPECT_EQ(listener_->stats().http2_connections, 1u);
}

TEST_F(HttpTlsTest, LargeBodiesCrossBothProtocols) {
  StartListener(Options("server"));
  std::string body;
  for (int i = 0; body.size() < 3 * 1024 * 1024; ++i) {
    absl::StrAppend(&body, "line ", i, "\n");
  }
  for (bool http2 : {false, true}) {
    Fetch fetch = Trusting(File("ca.pem"));
    fetch.http2 = http2;
    fetch.body = body;
    Fetched fetched = Get(port_, fetch);
    ASSERT_EQ(fetched.code, CURLE_OK) << fetched.error;
    EXPECT_EQ(fetched.status, 200);
    EXPECT_TRUE(fetched.body == body) << "http2=" << http2;
  }
}

TEST_F(HttpTlsTest, AlpnPrefersH2ThenHttp11AndRefusesOthers) {
  StartListener(Options("server"));
  {
    TlsClient client(port_, OfferingAlpn({"http/1.1", "h2"}));
    ASSERT_TRUE(client.Handshake());
    EXPECT_EQ(client.Alpn(), "h2");
  }
  {
    TlsClient client(port_, OfferingAlpn({"http/1.1"}));
    ASSERT_TRUE(client.Handshake());
    EXPECT_EQ(client.Alpn(), "http/1.1");
  }
  {
    TlsClient client(port_, OfferingAlpn({"spdy/3", "h2c"}));
    EXPECT_FALSE(client.Handshake());
    EXPECT_TRUE(client.ServerClosed());
  }
  EXPECT_EQ(listener_->stats().tls_handshake_failures, 1u);
}

TEST_F(HttpTlsTest, WithoutAlpnServesHttp1AndClosesWithCloseNotify) {
  StartListener(Options("server"));
  TlsClient client(port_, VerifyingWith(File("ca.pem")));
  ASSERT_TRUE(client.Handshake());
  EXPECT_EQ(client.Alpn(), "");
  ASSERT_TRUE(client.Write(
      "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  TlsClient::Ending ending = client.ReadToEnd();
  EXPECT_TRUE(absl::StartsWith(ending.received, "HTTP/1.1 200 OK\r\n"))
      << ending.received;
  EXPECT_TRUE(absl::EndsWith(ending.received, "\r\n\r\nhello"))
      << ending.received;
  EXPECT_TRUE(ending.close_notify);
}

TEST_F(HttpTlsTest, WithoutAlpnAcceptsHttp2PriorKnowledge) {
  StartListener(Options("server"));
  TlsClient client(port_, VerifyingWith(File("ca.pem")));
  ASSERT_TRUE(client.Handshake());
  // The preface and an empty SETTINGS frame.
  ASSERT_TRUE(
      client.Write(absl::StrCat("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                                absl::string_view("\0\0\0\x04\0\0\0\0\0", 9))));
  // The server's first frame is its SETTINGS.
  std::optional<std::string> frame_header = client.ReadExactly(9);
  ASSERT_TRUE(frame_header.has_value());
  EXPECT_EQ((*frame_header)[3], '\x04');
  EXPECT_EQ(listener_->stats().http2_connections, 1u);
}

TEST_F(HttpTlsTest, PlaintextHttpOnTlsPortGetsNoHttpAnswer) {
  StartListener(Options("server"));
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::optional<std::string> received = client.ReadUntilClosed();
  ASSERT_TRUE(received.has_value()) << "the server kept the connection open";
  EXPECT_FALSE(absl::StrContains(*received, "HTTP/")) << *received;
  EXPECT_EQ(listener_->stats().tls_handshake_failures, 1u);
  EXPECT_EQ(listener_->stats().requests, 0u);

  // And the same through libcurl.
  Fetch fetch;
  fetch.scheme = "http";
  Fetched fetched = Get(port_, fetch);
  EXPECT_NE(fetched.code, CURLE_OK);
  EXPECT_EQ(fetched.status, 0);
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpTlsTest, ClientTrustingAnotherCaRefusesTheServer) {
  StartListener(Options("server"));
  for (bool http2 : {false, true}) {
    Fetch fetch = Trusting(File("other_ca.pem"));
    fetch.http2 = http2;
    Fetched fetched = Get(port_, fetch);
    EXPECT_EQ(fetched.code, CURLE_PEER_FAILED_VERIFICATION) << fetched.error;
  }
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpTlsTest, ClientRefusesExpiredServerCertificate) {
  StartListener(Options("expired"));
  Fetched fetched = Get(port_, Trusting(File("ca.pem")));
  EXPECT_EQ(fetched.code, CURLE_PEER_FAILED_VERIFICATION) << fetched.error;
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpTlsTest, MutualTlsRefusesClientWithoutCertificate) {
  StartListener(Options("server", /*client_ca=*/true));
  {
    // On TLS 1.3 the client's side of the handshake completes before the
    // server checks its (missing) certificate: the refusal arrives as an
    // alert on the first read.
    TlsClient client(port_, VerifyingWith(File("ca.pem")));
    if (client.Handshake()) {
      client.Write("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n");
      TlsClient::Ending ending = client.ReadToEnd();
      EXPECT_EQ(ending.received, "");
      EXPECT_FALSE(ending.close_notify);
    }
    EXPECT_TRUE(client.ServerClosed());
    EXPECT_EQ(listener_->stats().tls_handshake_failures, 1u);
  }
  Fetched fetched = Get(port_, Trusting(File("ca.pem")));
  EXPECT_NE(fetched.code, CURLE_OK);
  EXPECT_EQ(fetched.status, 0);
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpTlsTest, MutualTlsRefusesCertificateNotForClients) {
  StartListener(Options("server", /*client_ca=*/true));
  // server.pem is signed by the client CA, but only for serverAuth.
  Fetch fetch = Trusting(File("ca.pem"));
  fetch.cert_file = File("server.pem");
  fetch.key_file = File("server.key");
  Fetched fetched = Get(port_, fetch);
  EXPECT_NE(fetched.code, CURLE_OK);
  EXPECT_EQ(listener_->stats().requests, 0u);
}

TEST_F(HttpTlsTest, MutualTlsHandsCertificateUrisToTheApplication) {
  StartListener(Options("server", /*client_ca=*/true));
  for (bool http2 : {false, true}) {
    Fetch fetch = Trusting(File("ca.pem"));
    fetch.http2 = http2;
    fetch.cert_file = File("client.pem");
    fetch.key_file = File("client.key");
    Fetched fetched = Get(port_, fetch);
    ASSERT_EQ(fetched.code, CURLE_OK) << fetched.error;
    EXPECT_EQ(fetched.status, 200);
    EXPECT_EQ(fetched.headers["x-http2"], http2 ? "1" : "0");
    EXPECT_EQ(fetched.headers["x-uris"], kClientUri);
    EXPECT_EQ(app_.LastUris(),
              std::vector<std::string>{std::string(kClientUri)});
  }
}

TEST_F(HttpTlsTest, UnverifiedClientCertificateGivesNoIdentity) {
  // Without client_ca_file no certificate is asked for, so none is
  // verified and none becomes an identity.
  StartListener(Options("server"));
  Fetch fetch = Trusting(File("ca.pem"));
  fetch.cert_file = File("client.pem");
  fetch.key_file = File("client.key");
  Fetched fetched = Get(port_, fetch);
  ASSERT_EQ(fetched.code, CURLE_OK) << fetched.error;
  EXPECT_EQ(fetched.headers["x-uris"], "");
  EXPECT_TRUE(app_.LastUris().empty());
}

TEST_F(HttpTlsTest, ClosesConnectionThatNeverSendsClientHello) {
  HttpListenerOptions options = Options("server");
  options.header_timeout = absl::Milliseconds(300);
  StartListener(options);
  RawClient client(port_);
  ASSERT_TRUE(client.connected());
  std::optional<std::string> received = client.ReadUntilClosed();
  ASSERT_TRUE(received.has_value()) << "the server kept the connection open";
  EXPECT_EQ(*received, "");
  // Counted before the close that the client saw.
  EXPECT_EQ(listener_->stats().tls_handshake_failures, 1u);
}

TEST_F(HttpTlsTest, RefusesTls11AndAcceptsTls12) {
  StartListener(Options("server"));
  {
    TlsClient client(port_, VerifyingWith(File("ca.pem"), TLS1_1_VERSION));
    EXPECT_FALSE(client.Handshake());
    EXPECT_TRUE(client.ServerClosed());
  }
  EXPECT_EQ(listener_->stats().tls_handshake_failures, 1u);
  TlsClient client(port_, VerifyingWith(File("ca.pem"), TLS1_2_VERSION));
  ASSERT_TRUE(client.Handshake());
  EXPECT_EQ(client.Version(), TLS1_2_VERSION);
}

TEST_F(HttpTlsTest, ReloadServesNewCertificateWhileOpenExchangesFinish) {
  const std::string live = absl::StrCat(*root_, "/live_reload");
  fs::create_directories(live);
  ReplaceFile(File("server.pem"), live + "/server.pem");
  ReplaceFile(File("server.key"), live + "/server.key");
  HttpListenerOptions options;
  options.address = "127.0.0.1:0";
  options.tls.cert_file = live + "/server.pem";
  options.tls.key_file = live + "/server.key";
  StartListener(options);

  // Streams opened before the reload and answered after it, one on each
  // protocol (HTTP/1.1 chunked, HTTP/2 DATA frames).
  struct Held {
    BodySink sink;
    Fetched result;
    std::thread thread;
  };
  Held held[2];
  for (int i = 0; i < 2; ++i) {
    Fetch fetch = Trusting(File("ca.pem"));
    fetch.path = "/held";
    fetch.http2 = i == 1;
    BodySink* sink = &held[i].sink;
    fetch.on_data = [sink](absl::string_view piece) { sink->Append(piece); };
    held[i].thread = std::thread([this, fetch, result = &held[i].result] {
      *result = Get(port_, fetch);
    });
  }
  // Ends the streams and joins, also when an assertion returns early.
  struct Joiner {
    ~Joiner() {
      app->FinishHeld();
      for (int i = 0; i < 2; ++i) {
        if (held[i].thread.joinable()) held[i].thread.join();
      }
    }
    TlsTestApp* app;
    Held* held;
  } joiner{&app_, held};
  for (Held& h : held) ASSERT_TRUE(h.sink.AwaitContains("data: first\n\n"));
  EXPECT_TRUE(SameCertificate(ServedCertificate(port_), File("server.pem")));

  ReplaceFile(File2("server.pem"), live + "/server.pem");
  ReplaceFile(File2("server.key"), live + "/server.key");
  ASSERT_TRUE(listener_->ReloadTls().ok());

  EXPECT_TRUE(SameCertificate(ServedCertificate(port_), File2("server.pem")));
  // A verifying client now needs the second CA.
  Fetched fetched = Get(port_, Trusting(File2("ca.pem")));
  EXPECT_EQ(fetched.code, CURLE_OK) << fetched.error;
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(Get(port_, Trusting(File("ca.pem"))).code,
            CURLE_PEER_FAILED_VERIFICATION);

  // The streams from before the reload still complete.
  app_.FinishHeld();
  for (int i = 0; i < 2; ++i) {
    held[i].thread.join();
    const Fetched& result = held[i].result;
    EXPECT_EQ(result.code, CURLE_OK) << result.error;
    EXPECT_EQ(result.status, 200);
    EXPECT_EQ(result.http_version,
              i == 1 ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1);
    EXPECT_EQ(result.body, "data: first\n\ndata: last\n\n");
  }
}

TEST_F(HttpTlsTest, FailedReloadKeepsThePreviousCertificate) {
  const std::string live = absl::StrCat(*root_, "/live_failed_reload");
  fs::create_directories(live);
  ReplaceFile(File("server.pem"), live + "/server.pem");
  ReplaceFile(File("server.key"), live + "/server.key");
  HttpListenerOptions options;
  options.address = "127.0.0.1:0";
  options.tls.cert_file = live + "/server.pem";
  options.tls.key_file = live + "/server.key";
  StartListener(options);

  // The key is missing.
  fs::remove(live + "/server.key");
  absl::Status reloaded = listener_->ReloadTls();
  EXPECT_EQ(reloaded.code(), absl::StatusCode::kInvalidArgument) << reloaded;
  EXPECT_TRUE(absl::StrContains(reloaded.message(), "tls.key_file"))
      << reloaded;
  EXPECT_TRUE(SameCertificate(ServedCertificate(port_), File("server.pem")));

  // A new certificate with the old key.
  ReplaceFile(File2("server.pem"), live + "/server.pem");
  ReplaceFile(File("server.key"), live + "/server.key");
  reloaded = listener_->ReloadTls();
  EXPECT_EQ(reloaded.code(), absl::StatusCode::kInvalidArgument) << reloaded;
  EXPECT_TRUE(absl::StrContains(reloaded.message(), "does not match"))
      << reloaded;

  // The old certificate still serves, to verifying clients too.
  EXPECT_TRUE(SameCertificate(ServedCertificate(port_), File("server.pem")));
  Fetched fetched = Get(port_, Trusting(File("ca.pem")));
  EXPECT_EQ(fetched.code, CURLE_OK) << fetched.error;
  EXPECT_EQ(fetched.status, 200);
}

TEST_F(HttpTlsTest, StartRejectsUnusableTlsFiles) {
  HttpListenerOptions options = Options("server");
  options.tls.cert_file = File("missing.pem");
  EXPECT_EQ(HttpListener::Start(options, &app_).status().code(),
            absl::StatusCode::kInvalidArgument);

  options = Options("server");
  options.tls.key_file.clear();
  EXPECT_EQ(HttpListener::Start(options, &app_).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A key that is not the certificate's.
  options = Options("server");
  options.tls.key_file = File("client.key");
  absl::Status status = HttpListener::Start(options, &app_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "does not match")) << status;

  // A key where the certificate should be.
  options = Options("server");
  options.tls.cert_file = File("server.key");
  EXPECT_EQ(HttpListener::Start(options, &app_).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A client CA file that holds no certificate.
  options = Options("server", /*client_ca=*/true);
  options.tls.client_ca_file = File("ca.key");
  status = HttpListener::Start(options, &app_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "tls.client_ca_file"))
      << status;
}

TEST_F(HttpTlsTest, ReloadWithoutTlsIsFailedPrecondition) {
  HttpListenerOptions options;
  options.address = "127.0.0.1:0";
  StartListener(options);
  EXPECT_EQ(listener_->ReloadTls().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace asap
