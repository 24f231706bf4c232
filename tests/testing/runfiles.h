// Files of the workspace among a test's runfiles (what its BUILD target has
// in `data`), and the TLS tests' certificates made from one of them.
//
//   std::string json = asap::testing::ReadRunfile("tests/testdata/x.json");
//   absl::StatusOr<std::string> certs = asap::testing::MakeTestCerts("tls");
//   ASSERT_TRUE(certs.ok()) << certs.status();  // *certs + "/server.pem"
#ifndef ASAP_TESTS_TESTING_RUNFILES_H_
#define ASAP_TESTS_TESTING_RUNFILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asap::testing {

// $TEST_SRCDIR/$TEST_WORKSPACE/`path`; `path` itself outside `bazel test`.
std::string Runfile(absl::string_view path);

// The bytes of Runfile(`path`); "" with a test failure recorded when it
// cannot be read.
std::string ReadRunfile(absl::string_view path);

// Runs tests/testing/make_test_certs.sh (which the test's `data` must hold)
// into $TEST_TMPDIR/`name` (/tmp/`name` outside `bazel test`) and returns
// that directory: ca.pem, server.pem, client.pem, expired.pem and their keys,
// other_ca.pem. An internal error when the script fails.
absl::StatusOr<std::string> MakeTestCerts(absl::string_view name);

}  // namespace asap::testing

#endif  // ASAP_TESTS_TESTING_RUNFILES_H_
