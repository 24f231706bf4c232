// PrivateSocket: a Unix socket address for a test server that must stop and
// start again on the same address. A TCP port, once released, may be taken by
// anyone before the restart; a path in a fresh private directory cannot.
#ifndef ASAP_TESTS_CLIENT_PRIVATE_SOCKET_H_
#define ASAP_TESTS_CLIENT_PRIVATE_SOCKET_H_

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace asap::testing {

class PrivateSocket {
 public:
  PrivateSocket() {
    // Under /tmp: a Unix socket path must fit in 108 bytes, which Bazel's
    // TEST_TMPDIR may not.
    char dir[] = "/tmp/asap_client_test.XXXXXX";
    EXPECT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  ~PrivateSocket() {
    unlink(path().c_str());
    rmdir(dir_.c_str());
  }
  PrivateSocket(const PrivateSocket&) = delete;
  PrivateSocket& operator=(const PrivateSocket&) = delete;

  std::string path() const { return dir_ + "/server.sock"; }
  // The address for ServerOptions::address and ClientOptions::target.
  std::string address() const { return "unix:" + path(); }

 private:
  std::string dir_;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_CLIENT_PRIVATE_SOCKET_H_
