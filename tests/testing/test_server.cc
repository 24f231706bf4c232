#include "tests/testing/test_server.h"

#include <utility>

#include "gtest/gtest.h"
#include "tests/testing/echo_requests.h"

namespace asap::testing {

std::unique_ptr<AsapServer> StartTestServer(HandlerRegistry handlers,
                                            ServerOptions options) {
  options.address = "127.0.0.1:0";
  options.manifest = asap::EchoManifest("");
  absl::StatusOr<std::unique_ptr<AsapServer>> server =
      AsapServer::Start(std::move(options), std::move(handlers));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

}  // namespace asap::testing
