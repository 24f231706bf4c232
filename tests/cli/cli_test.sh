#!/usr/bin/env bash
# Exercises the `asap` command line as a user would: validate (files, stdin,
# bad input), usage errors (exit 2), then serve / manifest / send against a
# server on 127.0.0.1, port 0, and a graceful shutdown on SIGTERM.
#
# Prints each check; exits non-zero at the first failure. The server is stopped
# by the EXIT trap of testlib.sh whatever happens.
set -euo pipefail

ASAP="${TEST_SRCDIR}/asap/tools/cli/asap"
TESTDATA="${TEST_SRCDIR}/asap/tests/testdata"
WORK="${TEST_TMPDIR:-$(mktemp -d)}/cli_test"
mkdir -p "${WORK}"
OUT="${WORK}/stdout"
ERR="${WORK}/stderr"

source "${TEST_SRCDIR}/asap/tests/cli/testlib.sh"

# This test stops at its first failure: its own pass and fail.
CHECKS=0
fail() {
  echo "FAIL: $*" >&2
  if [[ -s "${OUT}" ]]; then
    echo "--- stdout:" >&2
    cat "${OUT}" >&2
  fi
  if [[ -s "${ERR}" ]]; then
    echo "--- stderr:" >&2
    cat "${ERR}" >&2
  fi
  exit 1
}
pass() {
  CHECKS=$((CHECKS + 1))
  echo "ok ${CHECKS}: $*"
}

# run WANT_EXIT CMD...: runs CMD with stdout/stderr in ${OUT}/${ERR} and checks
# its exit code.
RC=0
run() {
  local want="$1"
  shift
  RC=0
  "$@" >"${OUT}" 2>"${ERR}" || RC=$?
  if [[ "${RC}" != "${want}" ]]; then
    fail "'$*' exited ${RC}, want ${want}"
  fi
}
# Same, with stdin from a file.
run_stdin() {
  local want="$1" input="$2"
  shift 2
  RC=0
  "$@" <"${input}" >"${OUT}" 2>"${ERR}" || RC=$?
  if [[ "${RC}" != "${want}" ]]; then
    fail "'$* < ${input}' exited ${RC}, want ${want}"
  fi
}
expect_in() {  # FILE TEXT
  grep -qF -- "$2" "$1" || fail "$(basename "$1") does not contain '$2'"
}
expect_one_line() {  # FILE
  local n
  n=$(wc -l <"$1")
  [[ "${n}" == 1 ]] || fail "$(basename "$1") has ${n} lines, want 1"
}

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

envelope() {  # PAYLOAD_TYPE PAYLOAD_JSON [SENDER]
  cat <<EOF
{
  "asap_version": "0.1",
  "timestamp": "$(now)",
  "sender": "${3:-urn:asap:agent:cli-test}",
  "recipient": "urn:asap:agent:echo",
  "payload_type": "$1",
  "payload": $2
}
EOF
}

[[ -x "${ASAP}" ]] || fail "no asap binary at ${ASAP}"

# --- validate -----------------------------------------------------------------

shopt -s nullglob
files=("${TESTDATA}"/*.json)
[[ ${#files[@]} -gt 0 ]] || fail "no test data in ${TESTDATA}"
for f in "${files[@]}"; do
  run 0 "${ASAP}" validate "${f}"
  expect_in "${OUT}" "valid"
  pass "validate $(basename "${f}"): $(head -n1 "${OUT}")"
done

run_stdin 0 "${TESTDATA}/task_request.json" "${ASAP}" validate -
expect_in "${OUT}" "valid envelope"
pass "validate - (stdin)"

printf '{"id": "x", "sender": ' >"${WORK}/malformed.json"
run 1 "${ASAP}" validate "${WORK}/malformed.json"
expect_one_line "${ERR}"
expect_in "${ERR}" "asap:protocol/malformed_envelope"
pass "validate malformed JSON: exit 1, $(cat "${ERR}")"

run_stdin 1 "${WORK}/malformed.json" "${ASAP}" validate -
expect_one_line "${ERR}"
expect_in "${ERR}" "asap:protocol/malformed_envelope"
pass "validate - (stdin) malformed JSON: exit 1"

envelope task.request '{"conversation_id": "c", "skill_id": "s", "input": {}}' \
  "urn:asap:agent:Not_A_Urn" >"${WORK}/bad_urn.json"
run 1 "${ASAP}" validate "${WORK}/bad_urn.json"
expect_one_line "${ERR}"
expect_in "${ERR}" "asap:protocol/malformed_envelope"
pass "validate bad sender URN: exit 1, $(cat "${ERR}")"

# --- usage errors (exit 2) ------------------------------------------------------

run 2 "${ASAP}"
pass "no command: exit 2"
run 2 "${ASAP}" frobnicate
expect_in "${ERR}" "unknown command"
pass "unknown command: exit 2"
run 2 "${ASAP}" validate --no-such-flag x "${TESTDATA}/task_request.json"
expect_in "${ERR}" "unknown flag"
pass "validate unknown flag: exit 2"
run 2 "${ASAP}" send --target 127.0.0.1:1 --bogus 1 "${TESTDATA}/task_request.json"
expect_in "${ERR}" "unknown flag"
pass "send unknown flag: exit 2"
run 2 "${ASAP}" send "${TESTDATA}/task_request.json"
expect_in "${ERR}" "--target"
pass "send without --target: exit 2"
run 2 "${ASAP}" manifest
expect_in "${ERR}" "--target"
pass "manifest without --target: exit 2"
run 2 "${ASAP}" serve --port 99999
pass "serve --port 99999: exit 2"

# --- serve / manifest / send ----------------------------------------------------

start_server "${WORK}/serve" "${ASAP}" serve --port 0
TARGET=$(await_server_line "listening on ") ||
  fail "asap serve did not print 'listening on'"
[[ "${TARGET}" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "bad address '${TARGET}'"
[[ "${TARGET}" != "127.0.0.1:0" ]] || fail "server reports port 0"
pass "serve --port 0: listening on ${TARGET}"

run 0 "${ASAP}" manifest --target "${TARGET}" --timeout 10
expect_in "${OUT}" '"urn:asap:agent:echo"'
pass "manifest --target: exit 0, id urn:asap:agent:echo"

envelope task.request \
  '{"conversation_id": "conv-cli", "skill_id": "echo", "input": {"greeting": "hello from the cli"}}' \
  >"${WORK}/task.json"
run 0 "${ASAP}" send --target "${TARGET}" --timeout 10 "${WORK}/task.json"
expect_in "${OUT}" '"task.response"'
expect_in "${OUT}" '"completed"'
expect_in "${OUT}" "hello from the cli"
pass "send task.request: exit 0, task.response completed"

run_stdin 0 "${WORK}/task.json" "${ASAP}" send --target "${TARGET}" --timeout 10 -
expect_in "${OUT}" '"task.response"'
pass "send - (stdin): exit 0"

# A body well over 1 KB, sent with each --compression value.
big=$(printf 'agent task %.0s' $(seq 400))
envelope task.request \
  "{\"conversation_id\": \"c\", \"skill_id\": \"echo\", \"input\": {\"text\": \"${big}\"}}" \
  >"${WORK}/big.json"
for compression in none gzip br; do
  run 0 "${ASAP}" send --target "${TARGET}" --timeout 10 \
    --compression "${compression}" "${WORK}/big.json"
  expect_in "${OUT}" '"completed"'
  expect_in "${OUT}" "agent task agent task"
  pass "send --compression=${compression}: exit 0"
done
run 2 "${ASAP}" send --target "${TARGET}" --compression zstd "${WORK}/big.json"
pass "send --compression zstd: exit 2"
run 2 "${ASAP}" send --target "${TARGET}" --compression bogus "${WORK}/big.json"
expect_in "${ERR}" "--compression: unknown compression 'bogus'"
expect_in "${ERR}" "expected none, gzip or br"
pass "send --compression bogus: exit 2, names the valid values"

envelope no.such.type '{"anything": 1}' >"${WORK}/unknown.json"
run 1 "${ASAP}" send --target "${TARGET}" --timeout 10 "${WORK}/unknown.json"
expect_one_line "${ERR}"
expect_in "${ERR}" "asap:transport/handler_not_found"
expect_in "${ERR}" "UNIMPLEMENTED"
pass "send unknown payload_type: exit 1, $(cat "${ERR}")"

# Port 1 on loopback: nothing listens there, so the connection is refused.
run 1 "${ASAP}" send --target 127.0.0.1:1 --timeout 3 "${WORK}/task.json"
expect_one_line "${ERR}"
expect_in "${ERR}" "asap:transport/unavailable"
pass "send to an unreachable port: exit 1, asap:transport/unavailable"

# --- graceful shutdown ----------------------------------------------------------

start=${SECONDS}
stop_server 10
[[ "${SERVER_KILLED}" == 0 ]] || fail "asap serve still running 10 s after SIGTERM"
[[ "${SERVER_RC}" == 0 ]] || fail "asap serve exited ${SERVER_RC} after SIGTERM, want 0"
pass "serve: SIGTERM -> exit 0 in about $((SECONDS - start)) s"

echo "PASS: ${CHECKS} checks"
