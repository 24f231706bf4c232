#!/usr/bin/env bash
# `asap serve` with TLS and mutual TLS, and `asap send` / `asap manifest`
# with --ca, --cert, --key, as the README shows them: certificates from
# tests/testing/make_test_certs.sh, made here.
#
# Prints PASS/FAIL per check and exits non-zero if any check failed. The
# server is stopped by the EXIT trap of testlib.sh whatever happens.
set -uo pipefail

ASAP="${TEST_SRCDIR}/asap/tools/cli/asap"
MAKE_CERTS="${TEST_SRCDIR}/asap/tests/testing/make_test_certs.sh"
WORK="${TEST_TMPDIR:-$(mktemp -d)}/tls_cli_test"
mkdir -p "${WORK}"
CERTS="${WORK}/certs"

source "${TEST_SRCDIR}/asap/tests/cli/testlib.sh"

bash "${MAKE_CERTS}" "${CERTS}" || die "make_test_certs.sh failed"

start_server "${WORK}/serve" "${ASAP}" serve --port 0 \
  --tls-cert "${CERTS}/server.pem" --tls-key "${CERTS}/server.key" \
  --tls-client-ca "${CERTS}/ca.pem"
ADDRESS=$(await_server_line "listening on ") ||
  die "asap serve did not print 'listening on'"

cat >"${WORK}/envelope.json" <<'JSON'
{"asap_version": "1.0", "sender": "urn:asap:agent:tls-client",
 "recipient": "urn:asap:agent:echo", "payload_type": "task.request",
 "payload": {"conversation_id": "c1", "skill_id": "echo",
             "input": {"text": "hello over mTLS"}}}
JSON
MTLS=(--ca "${CERTS}/ca.pem" --cert "${CERTS}/client.pem" --key "${CERTS}/client.key")

if "${ASAP}" send --target "${ADDRESS}" "${MTLS[@]}" --timeout 10 \
  "${WORK}/envelope.json" >"${WORK}/send.out" 2>"${WORK}/send.err" &&
  grep -q '"text": "hello over mTLS"' "${WORK}/send.out"; then
  pass "send with the CA and a client certificate"
else
  fail "send over mTLS"; cat "${WORK}/send.err"
fi

if "${ASAP}" manifest --target "${ADDRESS}" "${MTLS[@]}" --server-name localhost \
  --timeout 10 >"${WORK}/manifest.out" 2>"${WORK}/manifest.err" &&
  grep -q '"id": "urn:asap:agent:echo"' "${WORK}/manifest.out"; then
  pass "manifest over mTLS, --server-name localhost"
else
  fail "manifest over mTLS"; cat "${WORK}/manifest.err"
fi

# check NAME EXPECTED_CODE ARGS...: the send fails with exit 1 and the code.
check_refused() {
  local name=$1 code=$2
  shift 2
  "${ASAP}" send --target "${ADDRESS}" --timeout 10 "$@" "${WORK}/envelope.json" \
    >"${WORK}/refused.out" 2>"${WORK}/refused.err"
  local rc=$?
  if [[ ${rc} -eq 1 ]] && grep -q "${code}" "${WORK}/refused.err"; then
    pass "${name}: ${code}, exit 1"
  else
    fail "${name}: exit ${rc}"; cat "${WORK}/refused.err"
  fi
}
check_refused "plaintext" "asap:transport/unavailable"
check_refused "no client certificate" "asap:transport/unavailable" --ca "${CERTS}/ca.pem"
check_refused "wrong CA" "asap:transport/unavailable" --ca "${CERTS}/other_ca.pem" \
  --cert "${CERTS}/client.pem" --key "${CERTS}/client.key"

"${ASAP}" send --target "${ADDRESS}" --ca "${WORK}/missing.pem" \
  "${WORK}/envelope.json" >/dev/null 2>"${WORK}/usage.err"
rc=$?
if [[ ${rc} -eq 2 ]] && grep -q "tls.ca_file" "${WORK}/usage.err"; then
  pass "an unreadable --ca is a usage error naming it"
else
  fail "unreadable --ca: exit ${rc}"; cat "${WORK}/usage.err"
fi

finish
