#!/usr/bin/env bash
# The HTTP binding end to end: starts the echo agent with
# `asap serve --http-port 0`; with curl, sends an envelope over HTTP/1.1, the
# same over h2c, streams a task as Server-Sent Events and fetches the
# manifest; then one C++ client program (client.cc) runs the same code
# against the gRPC address and the HTTP binding.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap //examples/http_binding:client
start_agent --http bazel-bin/tools/cli/asap serve --port 0 --http-port 0
echo "echo agent: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS"

envelope='{"asap_version":"0.1","sender":"urn:asap:agent:curl","recipient":"urn:asap:agent:echo","payload_type":"task.request","payload":{"conversation_id":"c1","skill_id":"echo","input":{"text":"hello over HTTP"}}}'
request="{\"jsonrpc\":\"2.0\",\"method\":\"asap.send\",\"id\":\"req-1\",\"params\":{\"envelope\":$envelope}}"

echo "--- POST /asap over HTTP/1.1"
curl -sS --fail --max-time 10 "http://$HTTP_ADDRESS/asap" \
  -H 'Content-Type: application/json' -d "$request"
echo
echo "--- POST /asap over h2c"
curl -sS --fail --max-time 10 --http2-prior-knowledge \
  "http://$HTTP_ADDRESS/asap" -H 'Content-Type: application/json' \
  -d "$request" -w '\n(HTTP/%{http_version})\n'

stream='{"asap_version":"0.1","sender":"urn:asap:agent:curl","recipient":"urn:asap:agent:echo","payload_type":"echo.stream","payload":{"text":"hello","steps":3}}'
echo "--- POST /asap/stream (Server-Sent Events)"
curl -sS --fail --max-time 10 -N "http://$HTTP_ADDRESS/asap/stream" \
  -H 'Content-Type: application/json' \
  -d "{\"jsonrpc\":\"2.0\",\"method\":\"asap.send\",\"id\":\"req-2\",\"params\":{\"envelope\":$stream}}"

echo "--- GET /.well-known/asap/manifest.json"
curl -sS --fail --max-time 10 -D - \
  "http://$HTTP_ADDRESS/.well-known/asap/manifest.json"
echo

echo "--- the same AsapClient code over gRPC and over HTTP"
bazel-bin/examples/http_binding/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
