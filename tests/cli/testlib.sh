# Sourced by the shell tests of tests/cli: runs one server (`asap serve`, or
# another agent) in the background on a port the kernel picks, waits for the
# address it prints, and stops it; an EXIT trap stops it whatever happens.
# Also counts checks for tests that go on after a failed one.
#
#   WORK=...  # the test's scratch directory, set before sourcing
#   source "${TEST_SRCDIR}/asap/tests/cli/testlib.sh"
#   start_server "${WORK}/serve" "${ASAP}" serve --port 0
#   TARGET=$(await_server_line "listening on ") || die "asap serve did not start"
#   ... pass "it answered" / fail "it did not" ...
#   stop_server 10  # then ${SERVER_RC}, ${SERVER_KILLED}
#   finish          # "N passed, M failed"; the test's status
#
# Safe under `set -euo pipefail`. A test that sets its own EXIT trap must call
# stop_server from it; a test that stops at its first failure defines its own
# pass and fail after sourcing this.

SERVER_PID=""
SERVER_OUT=""
SERVER_ERR=""
SERVER_RC=""
SERVER_KILLED=0

# start_server PREFIX CMD...: runs CMD in the background with stdin from
# /dev/null, stdout in PREFIX.out and stderr in PREFIX.err; sets SERVER_PID.
start_server() {
  local prefix="$1"
  shift
  SERVER_OUT="${prefix}.out"
  SERVER_ERR="${prefix}.err"
  "$@" >"${SERVER_OUT}" 2>"${SERVER_ERR}" </dev/null &
  SERVER_PID=$!
}

# await_server_line PREFIX: waits (30 s at most) for the server to print a
# whole stdout line starting with PREFIX and prints the rest of that line.
# Returns 1, with the reason and the tail of the server's stderr on stderr,
# when the server exits first or prints no such line in time.
await_server_line() {
  local prefix="$1" line
  for _ in $(seq 300); do
    # Only lines ended by a newline: a line being written is not read half.
    while IFS= read -r line; do
      if [[ "${line}" == "${prefix}"* ]]; then
        printf '%s\n' "${line#"${prefix}"}"
        return 0
      fi
    done <"${SERVER_OUT}"
    if ! kill -0 "${SERVER_PID}" 2>/dev/null; then
      echo "the server exited before printing '${prefix}...'; its stderr:" >&2
      tail -n 30 "${SERVER_ERR}" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server printed no '${prefix}...' line in 30 s" >&2
  return 1
}

# stop_server [GRACE_S]: SIGTERM, then SIGKILL if the server still runs
# GRACE_S (default 5) seconds later. Sets SERVER_RC to its exit status and
# SERVER_KILLED to 1 when it had to be killed. Does nothing without a server.
stop_server() {
  local grace="${1:-5}"
  SERVER_KILLED=0
  [[ -n "${SERVER_PID}" ]] || return 0
  kill -TERM "${SERVER_PID}" 2>/dev/null || true
  for _ in $(seq $((grace * 10))); do
    kill -0 "${SERVER_PID}" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "${SERVER_PID}" 2>/dev/null; then
    SERVER_KILLED=1
    kill -KILL "${SERVER_PID}" 2>/dev/null || true
  fi
  SERVER_RC=0
  wait "${SERVER_PID}" 2>/dev/null || SERVER_RC=$?
  SERVER_PID=""
}

trap stop_server EXIT

PASSED=0
FAILED=0

# pass WHAT, fail WHAT: one check held, or did not (the test goes on).
pass() {
  PASSED=$((PASSED + 1))
  echo "PASS: $*"
}
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $*"
}

# die WHY: nothing more can be checked. Prints the end of every *.out and
# *.err in ${WORK} (the server's logs among them) and exits 1.
die() {
  echo "FAIL: $*"
  local f
  for f in "${WORK}"/*.out "${WORK}"/*.err; do
    if [[ -s "${f}" ]]; then
      echo "--- ${f}:"
      tail -n 50 "${f}"
    fi
  done
  exit 1
}

# finish: the closing count; fails when a check failed.
finish() {
  echo "${PASSED} passed, ${FAILED} failed"
  [[ "${FAILED}" == 0 ]]
}
