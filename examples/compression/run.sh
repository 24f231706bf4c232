#!/usr/bin/env bash
# Compression end to end: starts the echo agent with
# `asap serve --port 0 --http-port 0`, then client.cc sends one 64 KiB text
# with brotli, gzip and none over gRPC and over HTTP and prints the bytes each
# saved (AsapClient::compression_stats()). Stops the agent on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup.sh
bazel build //tools/cli:asap //examples/compression:client >&2

log=$(mktemp)
bazel-bin/tools/cli/asap serve --port 0 --http-port 0 >"$log" 2>&1 &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  grep -q '^http listening on ' "$log" && break
  kill -0 $server_pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
grpc=$(sed -n 's/^listening on //p' "$log")
http=$(sed -n 's/^http listening on //p' "$log")
[ -n "$grpc" ] && [ -n "$http" ] || { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
echo "echo agent: gRPC on $grpc, HTTP on $http"
bazel-bin/examples/compression/client "$grpc" "http://$http"
