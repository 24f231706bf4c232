#!/usr/bin/env bash
# SendBatch: starts the echo agent with `asap serve --port 0 --http-port 0`,
# then runs client.cc against its gRPC address (one SendBatch stream) and its
# HTTP binding (JSON-RPC batch arrays): 1000 envelopes with one invalid one in
# the middle, then the same with fail_fast.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap //examples/batch:client
start_agent --http bazel-bin/tools/cli/asap serve --port 0 --http-port 0
echo "echo agent: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS"
bazel-bin/examples/batch/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
