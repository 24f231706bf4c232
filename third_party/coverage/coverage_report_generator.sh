#!/usr/bin/env bash
# Minimal report generator: concatenates the reports listed in --reports_file.
set -eu
out=""
list=""
for arg in "$@"; do
  case "$arg" in
    --output_file=*) out="${arg#*=}" ;;
    --reports_file=*) list="${arg#*=}" ;;
  esac
done
[ -n "$out" ] || exit 0
: > "$out"
if [ -n "$list" ] && [ -f "$list" ]; then
  while read -r f; do [ -f "$f" ] && cat "$f" >> "$out"; done < "$list"
fi
