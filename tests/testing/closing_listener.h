// ClosingListener: a test peer that accepts TCP connections and closes them
// at once, for tests of clients facing a replica that is down but whose port
// still accepts.
#ifndef ASAP_TESTS_TESTING_CLOSING_LISTENER_H_
#define ASAP_TESTS_TESTING_CLOSING_LISTENER_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace asap::testing {

// A TCP listener on `port` that accepts each connection and closes it at
// once, counting them: a peer that is there but never answers (speaks
// neither gRPC nor HTTP).
class ClosingListener {
 public:
  explicit ClosingListener(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    listening_ = bind(fd_, reinterpret_cast<sockaddr*>(&address),
                      sizeof(address)) == 0 &&
                 listen(fd_, 64) == 0;
    if (listening_) {
      thread_ = std::thread([this] {
        while (true) {
          int connection = accept(fd_, nullptr, nullptr);
          if (connection < 0) return;
          if (stopping_) {
            close(connection);
            return;
          }
          ++accepted_;
          close(connection);
        }
      });
    }
  }
  ~ClosingListener() {
    stopping_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  bool listening() const { return listening_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  bool listening_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_CLOSING_LISTENER_H_
