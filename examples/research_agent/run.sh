#!/usr/bin/env bash
# The research agent end to end: installs what is missing, builds the agent
# (its Service class, clients and manifest generated from research.proto),
# starts it on free ports, prints its manifest as one line of JSON
# ("manifest: {...}"), calls both skills with the typed C++ client over gRPC
# and over HTTP, and with the typed Python client over gRPC; stops it.
source "$(dirname "$0")/../common/agent.sh"
build_example //examples/research_agent:server \
  //examples/research_agent:client //examples/research_agent:client_py
start_agent --http bazel-bin/examples/research_agent/server 0 0
echo "research agent: gRPC on $GRPC_ADDRESS, HTTP on $HTTP_ADDRESS" >&2
bazel-bin/examples/research_agent/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
bazel-bin/examples/research_agent/client_py "$GRPC_ADDRESS"
