#!/usr/bin/env bash
# The HTTP binding end to end: starts the echo agent with
# `asap serve --http-port 0`; with curl, sends an envelope over HTTP/1.1, the
# same over h2c, streams a task as Server-Sent Events and fetches the
# manifest; then one C++ client program (client.cc) runs the same code
# against the gRPC address and the HTTP binding.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup.sh
bazel build //tools/cli:asap //examples/http_binding:client >&2

log=$(mktemp)
bazel-bin/tools/cli/asap serve --port 0 --http-port 0 >"$log" 2>&1 &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  grep -q '^http listening on ' "$log" && break
  kill -0 $server_pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
http=$(sed -n 's/^http listening on //p' "$log")
[ -n "$http" ] || { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
echo "echo agent: $(sed -n 's/^listening on /gRPC on /p' "$log"), HTTP on $http"

envelope='{"asap_version":"0.1","sender":"urn:asap:agent:curl","recipient":"urn:asap:agent:echo","payload_type":"task.request","payload":{"conversation_id":"c1","skill_id":"echo","input":{"text":"hello over HTTP"}}}'
request="{\"jsonrpc\":\"2.0\",\"method\":\"asap.send\",\"id\":\"req-1\",\"params\":{\"envelope\":$envelope}}"

echo "--- POST /asap over HTTP/1.1"
curl -sS --fail --max-time 10 "http://$http/asap" -H 'Content-Type: application/json' -d "$request"
echo
echo "--- POST /asap over h2c"
curl -sS --fail --max-time 10 --http2-prior-knowledge "http://$http/asap" \
  -H 'Content-Type: application/json' -d "$request" -w '\n(HTTP/%{http_version})\n'

stream='{"asap_version":"0.1","sender":"urn:asap:agent:curl","recipient":"urn:asap:agent:echo","payload_type":"echo.stream","payload":{"text":"hello","steps":3}}'
echo "--- POST /asap/stream (Server-Sent Events)"
curl -sS --fail --max-time 10 -N "http://$http/asap/stream" -H 'Content-Type: application/json' \
  -d "{\"jsonrpc\":\"2.0\",\"method\":\"asap.send\",\"id\":\"req-2\",\"params\":{\"envelope\":$stream}}"

echo "--- GET /.well-known/asap/manifest.json"
curl -sS --fail --max-time 10 -D - "http://$http/.well-known/asap/manifest.json"
echo

grpc=$(sed -n 's/^listening on //p' "$log")
echo "--- the same AsapClient code over gRPC and over HTTP"
bazel-bin/examples/http_binding/client "$grpc" "http://$http"
