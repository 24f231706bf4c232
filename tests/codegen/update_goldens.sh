#!/usr/bin/env bash
# Rewrites tests/codegen/golden/ from what protoc-gen-asap generates now for
# inventory.proto. Review the diff before committing it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build //tests/codegen:inventory_asap_asap_cc //tests/codegen:inventory_asap_asap_py \
  //tests/codegen:inventory_asap_manifest >&2
for f in bazel-bin/tests/codegen/inventory_asap_asap_cc/tests/codegen/inventory.asap.h \
         bazel-bin/tests/codegen/inventory_asap_asap_cc/tests/codegen/inventory.asap.cc \
         bazel-bin/tests/codegen/inventory_asap_asap_py/tests/codegen/inventory_asap.py \
         bazel-bin/tests/codegen/inventory_asap_asap_json/tests/codegen/inventory.asap.json; do
  cp "$f" "tests/codegen/golden/$(basename "$f").golden"
done
git status --short tests/codegen/golden
