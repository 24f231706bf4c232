#!/usr/bin/env bash
# Compression end to end: starts the echo agent with
# `asap serve --port 0 --http-port 0`, then client.cc sends one 64 KiB text
# with brotli, gzip and none over gRPC and over HTTP and prints the bytes each
# saved (AsapClient::compression_stats()). Stops the agent on exit.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap //examples/compression:client
start_agent --http bazel-bin/tools/cli/asap serve --port 0 --http-port 0
echo "echo agent: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS"
bazel-bin/examples/compression/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
