#!/usr/bin/env bash
# Minimal lcov merger: concatenates every .dat file found under the coverage dir.
set -eu
out=""
dir=""
for arg in "$@"; do
  case "$arg" in
    --output_file=*) out="${arg#*=}" ;;
    --coverage_dir=*) dir="${arg#*=}" ;;
  esac
done
[ -n "$out" ] || exit 0
: > "$out"
if [ -n "$dir" ] && [ -d "$dir" ]; then
  find "$dir" -name '*.dat' -o -name '*.info' | while read -r f; do cat "$f" >> "$out"; done
fi
