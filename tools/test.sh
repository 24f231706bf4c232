#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine and ends with one line
# "N passed, N failed" counting test cases of every stage:
#
#   1. `bazel test //...` (fuzz targets replay their seed corpora here), and
#      the example consumer workspace (a project that depends on asap);
#   2. `bazel test --config=asan //...`: ASan, UBSan and LeakSanitizer;
#   3. `bazel test --config=tsan` of the concurrent tests (server, client,
#      codecs);
#   4. `bazel test --config=fuzz`: every fuzzer (clang-14, libFuzzer) for
#      ASAP_FUZZ_SECONDS (default 20) seconds, each one a test case.
#
# Each config keeps its own outputs and test logs (`bazel info --config=NAME
# bazel-testlogs`), so the stages do not rebuild each other. Installs the
# Debian packages asap needs first (tools/setup.sh).
#
# ASAP_SANITIZERS=0 runs stage 1 only (a quick local run).
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

fuzz_seconds="${ASAP_FUZZ_SECONDS:-20}"
summary_args=()
failed_stage=0

# stage NAME CONFIG_FLAGS QUERY PATTERN [EXTRA_TEST_FLAGS...]: runs
# `bazel test PATTERN` (or, when PATTERN is empty, the tests QUERY selects)
# under the config, times it, and adds the tests QUERY selects to the summary.
stage() {
  local name="$1" config="$2" query="$3" pattern="$4"
  shift 4
  local targets testlogs
  # shellcheck disable=SC2086  # $config is zero or one flag
  targets=$(bazel query "$query" 2>/dev/null | sort)
  testlogs=$(bazel info $config bazel-testlogs 2>/dev/null)
  echo "=== $name: $(echo "$targets" | wc -w) test targets ($config)"
  local start=$SECONDS
  # shellcheck disable=SC2086
  bazel test $config "$@" -- ${pattern:-$targets} || failed_stage=1
  echo "=== $name took $((SECONDS - start)) s"
  # shellcheck disable=SC2206
  summary_args+=(--group "$name" "$testlogs" $targets)
}

# Builds everything (binaries and benchmarks too), as it always did.
stage "tests" "" 'tests(//...)' //...

consumer_passed=0
consumer_failed=0
if bash tests/consumer_workspace/run.sh; then
  consumer_passed=1
else
  echo "FAILED: tests/consumer_workspace (a Bazel project depending on asap)"
  consumer_failed=1
fi

if [ "${ASAP_SANITIZERS:-1}" != 0 ]; then
  # --symlink_prefix=/ leaves bazel-bin and friends on the plain build.
  stage "asan" "--config=asan" 'tests(//...)' "" --symlink_prefix=/
  stage "tsan" "--config=tsan" \
    'tests(//tests/server/... + //tests/client/... + //tests/asap/compression/...)' \
    "" --symlink_prefix=/
  stage "fuzz" "--config=fuzz" 'attr(tags, "\bfuzz\b", tests(//tests/fuzz/...))' \
    "" --symlink_prefix=/ "--test_arg=-max_total_time=$fuzz_seconds"
fi

python3 tools/test_summary.py "${summary_args[@]}" \
  --extra-passed "$consumer_passed" --extra-failed "$consumer_failed"
summary_rc=$?
if [ "$failed_stage" -ne 0 ] || [ "$summary_rc" -ne 0 ]; then exit 1; fi
