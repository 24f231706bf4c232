#!/usr/bin/env bash
# `asap send` and `asap manifest` with an http:// target against an ASAP agent
# that is not asap: the reference-shaped Python agent
# (tests/client/http/reference_agent.py, HTTP/1.1 only, v1.0 answers).
# Checks an echoed envelope, the manifest, and that the agent's JSON-RPC
# errors come back as the ASAP codes with a non-zero exit.
#
# Prints PASS/FAIL per check and exits non-zero if any check failed. The
# agent is stopped by the EXIT trap of testlib.sh whatever happens.
set -uo pipefail

ASAP="${TEST_SRCDIR}/asap/tools/cli/asap"
AGENT="${TEST_SRCDIR}/asap/tests/client/http/reference_agent.py"
WORK="${TEST_TMPDIR:-$(mktemp -d)}/http_reference_test"
mkdir -p "${WORK}"

source "${TEST_SRCDIR}/asap/tests/cli/testlib.sh"

[[ -x "${ASAP}" ]] || die "no asap binary at ${ASAP}"
[[ -f "${AGENT}" ]] || die "no reference agent at ${AGENT}"

start_server "${WORK}/agent" python3 "${AGENT}" --port 0
ADDRESS=$(await_server_line "listening on ") ||
  die "the agent did not print 'listening on'"
TARGET="http://${ADDRESS}"

cat >"${WORK}/envelope.json" <<'JSON'
{"asap_version": "1.0", "sender": "urn:asap:agent:cli",
 "recipient": "urn:asap:agent:reference", "payload_type": "task.request",
 "payload": {"conversation_id": "c1", "skill_id": "echo",
             "input": {"text": "hello over http"}}}
JSON

# --- send ---------------------------------------------------------------------
if "${ASAP}" send --target "${TARGET}" --timeout 20 "${WORK}/envelope.json" \
  >"${WORK}/send.out" 2>"${WORK}/send.err"; then
  if grep -q '"payload_type": "task.response"' "${WORK}/send.out" &&
    grep -q '"text": "hello over http"' "${WORK}/send.out" &&
    grep -q '"sender": "urn:asap:agent:reference"' "${WORK}/send.out"; then
    pass "send --target http://: the reference agent's echo"
  else
    fail "send --target http://: unexpected answer"
    cat "${WORK}/send.out"
  fi
else
  fail "send --target http:// exited $?"
  cat "${WORK}/send.err"
fi

# --- manifest -------------------------------------------------------------------
if "${ASAP}" manifest --target "${TARGET}" --timeout 20 \
  >"${WORK}/manifest.out" 2>"${WORK}/manifest.err"; then
  if grep -q '"id": "urn:asap:agent:reference"' "${WORK}/manifest.out"; then
    pass "manifest --target http://: the reference agent's manifest"
  else
    fail "manifest --target http://: unexpected manifest"
    cat "${WORK}/manifest.out"
  fi
else
  fail "manifest --target http:// exited $?"
  cat "${WORK}/manifest.err"
fi

# --- an error the agent reports: no handler for the payload type ------------
cat >"${WORK}/cancel.json" <<'JSON'
{"asap_version": "1.0", "sender": "urn:asap:agent:cli",
 "recipient": "urn:asap:agent:reference", "payload_type": "task.cancel",
 "payload": {"task_id": "t1"}}
JSON
"${ASAP}" send --target "${TARGET}" --timeout 20 "${WORK}/cancel.json" \
  >"${WORK}/cancel.out" 2>"${WORK}/cancel.err"
rc=$?
if [[ ${rc} -eq 1 ]] &&
  grep -q 'asap:transport/handler_not_found' "${WORK}/cancel.err"; then
  pass "send: the agent's -32601 is asap:transport/handler_not_found, exit 1"
else
  fail "send of an unhandled payload type: exit ${rc}"
  cat "${WORK}/cancel.err"
fi

# --- nobody listening: a clear error, not a hang -------------------------------
"${ASAP}" send --target "http://127.0.0.1:1" --timeout 5 \
  "${WORK}/envelope.json" >"${WORK}/down.out" 2>"${WORK}/down.err"
rc=$?
if [[ ${rc} -eq 1 ]] && grep -q 'asap:transport/unavailable' "${WORK}/down.err"; then
  pass "send to a closed port: asap:transport/unavailable, exit 1"
else
  fail "send to a closed port: exit ${rc}"
  cat "${WORK}/down.err"
fi

finish
