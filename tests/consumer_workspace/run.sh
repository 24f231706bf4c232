#!/usr/bin/env bash
# Builds and tests the consumer workspace, a separate Bazel project that uses
# asap through local_repository, then runs its agent. Exits non-zero on any
# failure.
#
#   bash tests/consumer_workspace/run.sh
#
# --symlink_prefix=/ keeps Bazel's bazel-* convenience links out of the asap
# source tree (outputs are still under `bazel info output_path`).
set -euo pipefail
cd "$(dirname "$0")"

echo "== bazel test //... (in $(pwd))"
bazel test --symlink_prefix=/ //...

echo "== bazel run //:agent"
bazel run --symlink_prefix=/ //:agent

echo "== consumer workspace OK"
