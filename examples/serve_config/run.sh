#!/usr/bin/env bash
# `asap serve --config`: starts the echo agent from asap.toml (host, rate
# limits, JSON call logs), with the ports overridden on the command line to
# free ones; fetches the manifest and sends one envelope with the CLI, then
# shows the call log lines the file turned on.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap
asap=bazel-bin/tools/cli/asap
start_agent --http "$asap" serve --config examples/serve_config/asap.toml \
  --port 0 --http-port 0
echo "asap serve --config examples/serve_config/asap.toml: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS"

echo "--- asap manifest (HTTP)"
"$asap" manifest --target "http://$HTTP_ADDRESS"
echo "--- asap send (gRPC)"
echo '{"asap_version":"0.1","sender":"urn:asap:agent:cli","recipient":"urn:asap:agent:echo","payload_type":"task.request","payload":{"conversation_id":"c1","skill_id":"echo","input":{"text":"configured"}}}' |
  "$asap" send --target "$GRPC_ADDRESS" -
echo "--- the agent's call log (log-level = \"info\", log-format = \"json\")"
agent_log | grep '^{' || { echo "no call log line" >&2; exit 1; }
