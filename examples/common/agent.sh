# Runs an example's agent for its run.sh. Source it, then build and start:
#
#   source "$(dirname "$0")/../common/agent.sh"
#   build_example //tools/cli:asap //examples/pool:client
#   start_agent --http bazel-bin/tools/cli/asap serve --port 0 --http-port 0
#   bazel-bin/examples/pool/client "$GRPC_ADDRESS" "http://$HTTP_ADDRESS"
#
# Sourcing it turns on `set -euo pipefail` and moves to the repository root,
# so bazel-bin/... paths work from wherever run.sh was started. On exit the
# agent is stopped (SIGTERM, then waited for), its log is deleted and the
# commands given to on_exit run.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

_agent_pid=
_agent_log=
_on_exit=()

_agent_cleanup() {
  if [ -n "$_agent_pid" ]; then
    kill -TERM "$_agent_pid" 2>/dev/null || true
    wait "$_agent_pid" 2>/dev/null || true
  fi
  [ -z "$_agent_log" ] || rm -f "$_agent_log"
  local command
  for command in ${_on_exit[@]+"${_on_exit[@]}"}; do
    eval "$command" || true
  done
}
trap _agent_cleanup EXIT

# on_exit COMMAND: runs COMMAND (a string, as eval reads it) on exit, after
# the agent has stopped; for the example's own temporary files.
on_exit() {
  _on_exit+=("$1")
}

# build_example TARGET...: installs what is missing (tools/setup.sh), then
# builds the targets, with Bazel's output on stderr.
build_example() {
  bash tools/setup.sh
  bazel build --noshow_progress "$@" >&2
}

# start_agent [--http] COMMAND [ARG...]: starts COMMAND in the background and
# waits up to 10 s for its "listening on HOST:PORT" line and, with --http,
# its "http listening on HOST:PORT" line too. Exports GRPC_ADDRESS (and
# HTTP_ADDRESS) as HOST:PORT. Exits with the agent's log on stderr if the
# agent dies or does not start in time. One agent per run.sh.
start_agent() {
  local want_http=false
  if [ "$1" = "--http" ]; then
    want_http=true
    shift
  fi
  _agent_log=$(mktemp)
  "$@" >"$_agent_log" 2>&1 &
  _agent_pid=$!

  local _
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$_agent_log" &&
      { ! $want_http || grep -q '^http listening on ' "$_agent_log"; }; then
      GRPC_ADDRESS=$(sed -n 's/^listening on //p' "$_agent_log")
      HTTP_ADDRESS=$(sed -n 's/^http listening on //p' "$_agent_log")
      export GRPC_ADDRESS HTTP_ADDRESS
      return 0
    fi
    if ! kill -0 "$_agent_pid" 2>/dev/null; then
      echo "$1 exited before it was listening:" >&2
      cat "$_agent_log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$1 did not start listening within 10 s:" >&2
  cat "$_agent_log" >&2
  exit 1
}

# agent_log: prints what the agent has written so far (its stdout and
# stderr).
agent_log() {
  cat "$_agent_log"
}
