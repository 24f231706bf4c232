#!/usr/bin/env bash
# Runs the echo agent end to end: installs what is missing, builds, starts the
# server on a free port, runs the client against it, stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup.sh
bazel build //examples/echo_agent:server //examples/echo_agent:client >&2

log=$(mktemp)
bazel-bin/examples/echo_agent/server 0 >"$log" 2>&1 &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  grep -q '^listening on ' "$log" && break
  kill -0 $server_pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$log")
[ -n "$address" ] || { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
echo "echo agent listening on $address"
bazel-bin/examples/echo_agent/client "$address"
