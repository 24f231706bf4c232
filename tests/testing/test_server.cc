#include "tests/testing/test_server.h"

#include <utility>

#include "examples/echo_agent/echo_agent.h"
#include "gtest/gtest.h"

namespace asap::testing {

std::unique_ptr<AsapServer> StartTestServer(HandlerRegistry handlers,
                                            ServerOptions options) {
  options.address = "127.0.0.1:0";
  options.manifest = examples::EchoManifest("");
  absl::StatusOr<std::unique_ptr<AsapServer>> server =
      AsapServer::Start(std::move(options), std::move(handlers));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

}  // namespace asap::testing
