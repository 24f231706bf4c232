// NginxProcess: a real nginx (Debian's /usr/sbin/nginx, with its http_v2 and
// grpc modules) run as a child process in front of agent replicas, for the
// deployment tests and the chaos benchmark.
//
//   NginxOptions options;
//   options.grpc_upstreams = {"127.0.0.1:40001", "127.0.0.1:40003"};
//   options.http_upstreams = {"127.0.0.1:40002", "127.0.0.1:40004"};
//   absl::StatusOr<std::unique_ptr<NginxProcess>> nginx =
//       NginxProcess::Start(options);
//   client_options.target = (*nginx)->grpc_target();  // "127.0.0.1:P"
//   client_options.target = (*nginx)->http_url();     // "http://127.0.0.1:Q"
//
// The configuration is generated (NginxConfig) into a directory of its own
// under TEST_TMPDIR, with the error log, pid file and temporary files there
// too; nothing outside it is read or written. nginx cannot listen on port 0,
// so Start picks two free ports and starts again on two others when nginx
// could not bind them (another process took one in between). The child
// stays in the foreground (`daemon off;`) and is stopped by the destructor;
// it is killed too when the thread that started it ends (ServerProcess).
#ifndef ASAP_TESTS_TESTING_NGINX_PROCESS_H_
#define ASAP_TESTS_TESTING_NGINX_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "benchmarks/server_process.h"

namespace asap::testing {

struct NginxOptions {
  // The nginx binary.
  std::string nginx = "/usr/sbin/nginx";
  // The replicas' gRPC and HTTP-binding addresses (host:port), in the same
  // order; either list may be empty, not both.
  std::vector<std::string> grpc_upstreams;
  std::vector<std::string> http_upstreams;
  // How long nginx waits for a replica's answer (grpc_read_timeout,
  // proxy_read_timeout) or to send it the request (grpc_send_timeout,
  // proxy_send_timeout). Longer than the slowest call, or nginx cancels it.
  absl::Duration upstream_timeout = absl::Seconds(60);
  // After a failed connection, a replica gets no traffic for this long
  // (`fail_timeout`, passive health checking).
  absl::Duration fail_timeout = absl::Seconds(2);
  // Directory of the configuration, logs and temporary files; empty: a new
  // one under TEST_TMPDIR (or /tmp).
  std::string dir;
  // Starts tried (each on two other ports) and how long each may take.
  int start_attempts = 3;
  absl::Duration start_timeout = absl::Seconds(10);
};

// The nginx.conf for `options` listening on 127.0.0.1:`grpc_port` (HTTP/2,
// grpc_pass) and 127.0.0.1:`http_port` (HTTP/1.1, proxy_pass over
// keep-alive connections), with every path under `dir`.
std::string NginxConfig(const NginxOptions& options, const std::string& dir,
                        int grpc_port, int http_port);

class NginxProcess {
 public:
  // Writes the configuration and starts nginx; returns once it listens on
  // both ports (its pid file is written after it has bound them), or an
  // error carrying the end of its error log.
  static absl::StatusOr<std::unique_ptr<NginxProcess>> Start(
      NginxOptions options);

  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;
  // SIGTERM (nginx's fast shutdown), SIGKILL after a second.
  ~NginxProcess();

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  // "127.0.0.1:P": an AsapClient target for the gRPC binding.
  std::string grpc_target() const;
  // "http://127.0.0.1:Q": an AsapClient target for the HTTP binding.
  std::string http_url() const;
  // The configuration nginx runs with.
  const std::string& config() const { return config_; }
  // The error log so far (for a failing test's message).
  std::string ErrorLog() const;

 private:
  NginxProcess() = default;

  std::unique_ptr<bench::ServerProcess> process_;
  std::string dir_;
  std::string config_;
  int grpc_port_ = 0;
  int http_port_ = 0;
};

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_NGINX_PROCESS_H_
