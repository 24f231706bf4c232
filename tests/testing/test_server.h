// Starting an AsapServer in a test: on 127.0.0.1, port 0, with the echo
// agent's manifest.
#ifndef ASAP_TESTS_TESTING_TEST_SERVER_H_
#define ASAP_TESTS_TESTING_TEST_SERVER_H_

#include <memory>

#include "server/asap_server.h"

namespace asap::testing {

// The started server; null, with a test failure recorded, when it does not
// start. `options.address` and `options.manifest` are overwritten.
std::unique_ptr<AsapServer> StartTestServer(HandlerRegistry handlers,
                                            ServerOptions options = {});

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_TEST_SERVER_H_
