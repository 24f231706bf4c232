// TLS and mutual TLS: the asap server's gRPC listener, and the client on
// gRPC and on https:// (against the reference-shaped Python agent serving
// HTTPS). Keys and certificates are made by tests/testing/make_test_certs.sh
// when the suite starts; none is committed.
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "asap/errors.h"
#include "client/asap_client.h"
#include "gtest/gtest.h"
#include "server/asap_server.h"
#include "tests/client/http/reference_agent.h"
#include "tests/testing/echo_requests.h"
#include "tests/testing/runfiles.h"
#include "tests/testing/test_server.h"

namespace asap {
namespace {

using ::asap::testing::EchoedText;
using ::asap::testing::EchoRequest;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> dir = testing::MakeTestCerts("tls_test_certs");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new std::string(*std::move(dir));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string File(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }

  // An echo server with TLS from `cert` (server.pem, expired.pem) and,
  // when `client_ca` is set, mutual TLS.
  static std::unique_ptr<AsapServer> Server(const std::string& cert,
                                            bool client_ca = false) {
    ServerOptions options;
    options.tls.cert_file = File(cert + ".pem");
    options.tls.key_file = File(cert + ".key");
    if (client_ca) options.tls.client_ca_file = File("ca.pem");
    return testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  }

  static ClientOptions Options(const std::string& target) {
    ClientOptions options;
    options.target = target;
    options.timeout = absl::Seconds(10);
    options.tls.enabled = true;
    options.tls.ca_file = File("ca.pem");
    options.http.retry.initial_backoff = absl::Milliseconds(10);
    return options;
  }

  static absl::StatusOr<v1::Envelope> SendOnce(ClientOptions options) {
    absl::StatusOr<std::unique_ptr<AsapClient>> client =
        AsapClient::Create(std::move(options));
    if (!client.ok()) return client.status();
    return (*client)->Send(EchoRequest("over tls"));
  }

  static std::string* dir_;
};

std::string* TlsTest::dir_ = nullptr;

std::optional<ErrorCode> CodeOf(const absl::StatusOr<v1::Envelope>& result) {
  return ErrorCodeOf(result.status());
}

// --- gRPC -------------------------------------------------------------------

TEST_F(TlsTest, GrpcCallOverTls) {
  std::unique_ptr<AsapServer> server = Server("server");
  ASSERT_NE(server, nullptr);
  absl::StatusOr<v1::Envelope> response = SendOnce(Options(server->address()));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), "over tls");
}

TEST_F(TlsTest, GrpcPlaintextClientIsRefused) {
  std::unique_ptr<AsapServer> server = Server("server");
  ASSERT_NE(server, nullptr);
  ClientOptions options = Options(server->address());
  options.tls = ClientTlsOptions();
  EXPECT_EQ(CodeOf(SendOnce(options)), ErrorCode::kUnavailable);
}

TEST_F(TlsTest, GrpcTlsClientToPlaintextServerFails) {
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(CodeOf(SendOnce(Options(server->address()))),
            ErrorCode::kUnavailable);
}

TEST_F(TlsTest, GrpcWrongCaIsRefused) {
  std::unique_ptr<AsapServer> server = Server("server");
  ASSERT_NE(server, nullptr);
  ClientOptions options = Options(server->address());
  options.tls.ca_file = File("other_ca.pem");
  EXPECT_EQ(CodeOf(SendOnce(options)), ErrorCode::kUnavailable);
}

TEST_F(TlsTest, GrpcExpiredCertificateIsRefused) {
  std::unique_ptr<AsapServer> server = Server("expired");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(CodeOf(SendOnce(Options(server->address()))),
            ErrorCode::kUnavailable);
}

TEST_F(TlsTest, GrpcServerNameOverride) {
  std::unique_ptr<AsapServer> server = Server("server");
  ASSERT_NE(server, nullptr);
  ClientOptions options = Options(server->address());
  options.tls.server_name = "localhost";  // in the certificate
  EXPECT_TRUE(SendOnce(options).ok());
  options.tls.server_name = "elsewhere.example";  // not in it
  EXPECT_EQ(CodeOf(SendOnce(options)), ErrorCode::kUnavailable);
}

TEST_F(TlsTest, GrpcMutualTlsNeedsAClientCertificate) {
  std::unique_ptr<AsapServer> server = Server("server", /*client_ca=*/true);
  ASSERT_NE(server, nullptr);
  ClientOptions options = Options(server->address());
  // Refused. (With TLS 1.3 the client may finish its side of the handshake
  // and see the server's refusal only on its call, as a closed stream
  // rather than an unavailable channel: the code depends on timing.)
  absl::StatusOr<v1::Envelope> refused = SendOnce(options);
  EXPECT_FALSE(refused.ok());
  options.tls.cert_file = File("client.pem");
  options.tls.key_file = File("client.key");
  absl::StatusOr<v1::Envelope> response = SendOnce(options);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), "over tls");
}

TEST_F(TlsTest, BadTlsOptionsAreRefusedUpFront) {
  ServerOptions server;
  server.tls.cert_file = File("server.pem");  // no key
  EXPECT_EQ(AsapServer::Start(std::move(server), asap::EchoHandlers())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  ServerOptions missing;
  missing.tls.cert_file = File("nothing.pem");
  missing.tls.key_file = File("server.key");
  EXPECT_EQ(AsapServer::Start(std::move(missing), asap::EchoHandlers())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  // A key that is not the certificate's.
  ServerOptions mismatched;
  mismatched.tls.cert_file = File("server.pem");
  mismatched.tls.key_file = File("client.key");
  mismatched.http_address = "127.0.0.1:0";
  EXPECT_EQ(AsapServer::Start(std::move(mismatched), asap::EchoHandlers())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  ClientOptions client = Options("127.0.0.1:1");
  client.tls.ca_file = File("nothing.pem");
  EXPECT_EQ(AsapClient::Create(client).status().code(),
            absl::StatusCode::kInvalidArgument);
  client = Options("http://127.0.0.1:1");  // TLS asked for, http:// given
  EXPECT_EQ(AsapClient::Create(client).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- https://
// -----------------------------------------------------------------

class HttpsTest : public TlsTest {
 protected:
  static std::unique_ptr<testing::ReferenceAgent> Agent(
      const std::string& cert) {
    return testing::ReferenceAgent::Start(
        {"--tls-cert", File(cert + ".pem"), "--tls-key", File(cert + ".key")});
  }
  static std::string HttpsUrl(const testing::ReferenceAgent& agent) {
    std::string url = agent.url();
    return absl::StrCat("https://", url.substr(7));
  }
};

TEST_F(HttpsTest, CallsAnAgentOverHttps) {
  std::unique_ptr<testing::ReferenceAgent> agent = Agent("server");
  ASSERT_NE(agent, nullptr);
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(Options(HttpsUrl(*agent)));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<v1::Envelope> response =
      (*client)->Send(EchoRequest("over https"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(EchoedText(*response), "over https");
  absl::StatusOr<v1::Manifest> manifest = (*client)->GetManifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->id(), "urn:asap:agent:reference");
  EXPECT_EQ((*client)->http_stats().protocol, "http/1.1 over TLS");
}

TEST_F(HttpsTest, ServerNameOverride) {
  std::unique_ptr<testing::ReferenceAgent> agent = Agent("server");
  ASSERT_NE(agent, nullptr);
  ClientOptions options = Options(HttpsUrl(*agent));
  options.tls.server_name = "localhost";
  EXPECT_TRUE(SendOnce(options).ok());
  options.tls.server_name = "elsewhere.example";
  EXPECT_EQ(CodeOf(SendOnce(options)), ErrorCode::kUnavailable);
}

TEST_F(HttpsTest, WrongCaIsRefusedWithoutRetries) {
  std::unique_ptr<testing::ReferenceAgent> agent = Agent("server");
  ASSERT_NE(agent, nullptr);
  ClientOptions options = Options(HttpsUrl(*agent));
  options.tls.ca_file = File("other_ca.pem");
  absl::StatusOr<std::unique_ptr<AsapClient>> client =
      AsapClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<v1::Envelope> response = (*client)->Send(EchoRequest("x"));
  EXPECT_EQ(CodeOf(response), ErrorCode::kUnavailable) << response.status();
  // A certificate that does not verify fails the same way every time.
  EXPECT_EQ((*client)->http_stats().retries, 0u);
}

TEST_F(HttpsTest, ExpiredCertificateIsRefused) {
  std::unique_ptr<testing::ReferenceAgent> agent = Agent("expired");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(CodeOf(SendOnce(Options(HttpsUrl(*agent)))),
            ErrorCode::kUnavailable);
}

TEST_F(HttpsTest, PlaintextToTheTlsPortFails) {
  std::unique_ptr<testing::ReferenceAgent> agent = Agent("server");
  ASSERT_NE(agent, nullptr);
  ClientOptions options = Options(agent->url());  // http://
  options.tls = ClientTlsOptions();
  options.http.retry.max_retries = 0;
  EXPECT_EQ(CodeOf(SendOnce(options)), ErrorCode::kUnavailable);
}

TEST_F(TlsTest, ReloadTlsKeepsServingAndRefusesBadFiles) {
  // The server reads copies of the files, so they can be swapped here.
  const std::string cert = File("reload.pem");
  const std::string key = File("reload.key");
  auto copy = [](const std::string& from, const std::string& to) {
    const std::string command = absl::StrCat("cp ", from, " ", to);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  };
  copy(File("server.pem"), cert);
  copy(File("server.key"), key);
  ServerOptions options;
  options.http_address = "127.0.0.1:0";
  options.tls.cert_file = cert;
  options.tls.key_file = key;
  std::unique_ptr<AsapServer> server =
      testing::StartTestServer(asap::EchoHandlers(), std::move(options));
  ASSERT_NE(server, nullptr);
  auto call = [&](const std::string& target) {
    ClientOptions client = Options(target);
    absl::StatusOr<std::unique_ptr<AsapClient>> created =
        AsapClient::Create(std::move(client));
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return created.status();
    return (*created)->Send(EchoRequest("reload")).status();
  };
  const std::string https =
      absl::StrCat("https://localhost:", server->http_port());
  ASSERT_TRUE(call(server->address()).ok());
  ASSERT_TRUE(call(https).ok());
  EXPECT_TRUE(server->ReloadTls().ok());
  // A key that is not the certificate's is refused, and the old pair keeps
  // serving new connections.
  copy(File("client.key"), key);
  absl::Status refused = server->ReloadTls();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(call(server->address()).ok());
  EXPECT_TRUE(call(https).ok());
  std::unique_ptr<AsapServer> plain =
      testing::StartTestServer(asap::EchoHandlers());
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->ReloadTls().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace asap
