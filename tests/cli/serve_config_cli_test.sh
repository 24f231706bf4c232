#!/usr/bin/env bash
# `asap serve --config FILE` and `--log-level/--log-format` as a user runs
# them: a bad file is one line on stderr and exit 2; a good one is read, the
# command line overrides it, and each envelope call gives one log line.
#
# Prints each check; exits non-zero at the first failure. The server is
# stopped by the EXIT trap of testlib.sh whatever happens.
set -euo pipefail

ASAP="${TEST_SRCDIR}/asap/tools/cli/asap"
WORK="${TEST_TMPDIR:-$(mktemp -d)}/serve_config_cli_test"
mkdir -p "${WORK}"
OUT="${WORK}/stdout"
ERR="${WORK}/stderr"

source "${TEST_SRCDIR}/asap/tests/cli/testlib.sh"

# This test stops at its first failure: its own pass and fail.
CHECKS=0
fail() {
  echo "FAIL: $*" >&2
  for f in "${OUT}" "${ERR}" "${WORK}/serve.err"; do
    if [[ -s "${f}" ]]; then
      echo "--- $(basename "${f}"):" >&2
      cat "${f}" >&2
    fi
  done
  exit 1
}
pass() {
  CHECKS=$((CHECKS + 1))
  echo "ok ${CHECKS}: $*"
}

# bad_config NAME TEXT WANT: serve with a file holding TEXT exits 2 with one
# stderr line containing WANT.
bad_config() {
  local file="${WORK}/$1.toml"
  printf '%b' "$2" >"${file}"
  local rc=0
  "${ASAP}" serve --config "${file}" >"${OUT}" 2>"${ERR}" </dev/null || rc=$?
  [[ "${rc}" == 2 ]] || fail "$1: exit ${rc}, want 2"
  [[ "$(wc -l <"${ERR}")" == 1 ]] || fail "$1: stderr is not one line"
  grep -qF -- "$3" "${ERR}" || fail "$1: stderr lacks '$3'"
  pass "$1: exit 2, $(cat "${ERR}")"
}

bad_config unknown_key 'port = 0\nprot = 1\n' "unknown_key.toml:2: unknown key 'prot'"
bad_config wrong_type 'port = "0"\n' "wrong_type.toml:1: 'port' must be an integer"
bad_config syntax 'port = 0\nhost = "unterminated\n' "syntax.toml:2:"
bad_config log_level 'log-level = "loud"\n' "log_level.toml:1: 'log-level'"

rc=0
"${ASAP}" serve --config "${WORK}/no_such.toml" >"${OUT}" 2>"${ERR}" || rc=$?
[[ "${rc}" == 2 ]] || fail "missing file: exit ${rc}, want 2"
grep -qF "cannot read" "${ERR}" || fail "missing file: no 'cannot read'"
pass "missing file: exit 2"

# --- a good file, overridden on the command line ---------------------------
cat >"${WORK}/asap.toml" <<'EOF'
host = "127.0.0.1"
port = 1
http-port = 0
log-level = "info"
log-format = "json"
EOF
start_server "${WORK}/serve" "${ASAP}" serve --config "${WORK}/asap.toml" \
  --port 0 --log-format text
TARGET=$(await_server_line "listening on ") ||
  fail "asap serve did not print 'listening on'"
HTTP_TARGET=$(await_server_line "http listening on ") ||
  fail "asap serve printed no http line"
HTTP_TARGET="http://${HTTP_TARGET}"
[[ "${TARGET}" != "127.0.0.1:1" ]] || fail "--port 0 did not override port = 1"
pass "--port 0 overrides the file: ${TARGET}, ${HTTP_TARGET}"

cat >"${WORK}/envelope.json" <<'EOF'
{"sender":"urn:asap:agent:cli","recipient":"urn:asap:agent:echo",
 "payload_type":"task.request","trace_id":"trace-7",
 "payload":{"conversation_id":"c","skill_id":"echo","input":{"text":"hi"}}}
EOF
"${ASAP}" send --target "${TARGET}" "${WORK}/envelope.json" >"${OUT}" 2>"${ERR}" ||
  fail "send over gRPC failed"
"${ASAP}" send --target "${HTTP_TARGET}" "${WORK}/envelope.json" >"${OUT}" 2>"${ERR}" ||
  fail "send over HTTP failed"
# Each line is written before its call is answered.
grep -c '^time=' "${WORK}/serve.err" >"${OUT}" || true
[[ "$(cat "${OUT}")" == 2 ]] || fail "want 2 call log lines"
grep -q 'binding=grpc .*trace_id=trace-7 sender=urn:asap:agent:cli payload_type=task.request outcome=OK code=OK' \
  "${WORK}/serve.err" || fail "no text line for the gRPC call"
grep -q 'binding=http .*outcome=OK' "${WORK}/serve.err" ||
  fail "no text line for the HTTP call"
pass "one text line per call (--log-format text overrides json)"

stop_server 10
[[ "${SERVER_KILLED}" == 0 && "${SERVER_RC}" == 0 ]] ||
  fail "asap serve exited ${SERVER_RC} after SIGTERM, want 0"
pass "serve stopped on SIGTERM"

echo "${CHECKS} checks passed"
