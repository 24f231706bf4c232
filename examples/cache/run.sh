#!/usr/bin/env bash
# The manifest cache: starts the echo agent with `asap serve --port 0
# --http-port 0`, then runs client.cc against its gRPC address and its HTTP
# binding: a fetch then cache hits, one cache shared by two clients, a short
# ttl that expires, and caching turned off.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap //examples/cache:client
start_agent --http bazel-bin/tools/cli/asap serve --port 0 --http-port 0
echo "echo agent: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS"
bazel-bin/examples/cache/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
