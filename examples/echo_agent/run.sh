#!/usr/bin/env bash
# Runs the echo agent end to end: installs what is missing, builds, starts the
# server on a free port, runs the client against it, stops the server.
source "$(dirname "$0")/../common/agent.sh"
build_example //examples/echo_agent:server //examples/echo_agent:client
start_agent bazel-bin/examples/echo_agent/server 0
echo "echo agent listening on $GRPC_ADDRESS"
bazel-bin/examples/echo_agent/client "$GRPC_ADDRESS"
