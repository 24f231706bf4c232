#!/usr/bin/env bash
# The connection pool: starts the echo agent with `asap serve --port 0
# --http-port 0`, then runs client.cc against its gRPC address and its HTTP
# binding: 200 concurrent calls over a small pool (pool_stats), and a call
# refused with asap:transport/pool_exhausted after pool_timeout.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap //examples/pool:client
start_agent --http bazel-bin/tools/cli/asap serve --port 0 --http-port 0
echo "echo agent: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS"
bazel-bin/examples/pool/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
