#!/usr/bin/env bash
# The files protoc-gen-asap generates for inventory.proto, compared with the
# goldens in tests/codegen/golden/. After a deliberate change to the
# generator, refresh them with tests/codegen/update_goldens.sh.
set -euo pipefail
golden_dir=tests/codegen/golden
status=0
compared=0
for generated in "$@"; do
  name=$(basename "$generated")
  # protoc's own Python messages are not protoc-gen-asap's output.
  case "$name" in *_pb2.py) continue ;; esac
  compared=$((compared + 1))
  if ! diff -u "$golden_dir/$name.golden" "$generated"; then
    echo "FAIL: $name differs from $golden_dir/$name.golden" >&2
    status=1
  fi
done
[ "$compared" -eq 4 ] || { echo "FAIL: expected 4 generated files, got $compared" >&2; exit 1; }
exit $status
