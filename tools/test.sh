#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: installs the Debian packages
# asap needs, runs `bazel test //...`, builds and tests the example consumer
# workspace (a project that depends on asap from Bazel), and ends with one line
# "N passed, N failed" counting test cases.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

targets=$(bazel query 'tests(//...)' 2>/dev/null | sort)
bazel test //... 
bazel_rc=$?

consumer_passed=0
consumer_failed=0
if bash tests/consumer_workspace/run.sh; then
  consumer_passed=1
else
  echo "FAILED: tests/consumer_workspace (a Bazel project depending on asap)"
  consumer_failed=1
fi

python3 tools/test_summary.py "$(bazel info bazel-testlogs 2>/dev/null)" $targets \
  --extra-passed "$consumer_passed" --extra-failed "$consumer_failed"
summary_rc=$?
if [ "$bazel_rc" -ne 0 ] || [ "$summary_rc" -ne 0 ]; then exit 1; fi
