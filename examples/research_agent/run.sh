#!/usr/bin/env bash
# The research agent end to end: installs what is missing, builds the agent
# (its Service class, clients and manifest generated from research.proto),
# starts it on free ports, prints its manifest as one line of JSON
# ("manifest: {...}"), calls both skills with the typed C++ client over gRPC
# and over HTTP, and with the typed Python client over gRPC; stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup.sh
bazel build //examples/research_agent:server //examples/research_agent:client \
  //examples/research_agent:client_py >&2

log=$(mktemp)
bazel-bin/examples/research_agent/server 0 0 >"$log" 2>&1 &
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
echo "research agent: gRPC on $grpc, HTTP on $http" >&2
bazel-bin/examples/research_agent/client "$grpc" "http://$http"
bazel-bin/examples/research_agent/client_py "$grpc"
