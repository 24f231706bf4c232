#!/usr/bin/env bash
# ASAP's HTTP binding driven by curl, as an operator pokes at it: starts
# `asap serve --port 0 --http-port 0` on 127.0.0.1, then POST /asap over h2c
# (prior knowledge) and HTTP/1.1, an 11 MiB body and a gzip bomb (413), two
# requests on one kept-alive HTTP/1.1 connection, and a last request proving
# the server still answers.
#
# Prints PASS/FAIL per check and exits non-zero if any check failed. Every curl
# call has --max-time; the server is stopped by the EXIT trap of testlib.sh
# whatever happens.
set -uo pipefail

ASAP="${TEST_SRCDIR}/asap/tools/cli/asap"
WORK="${TEST_TMPDIR:-$(mktemp -d)}/http_curl_test"
mkdir -p "${WORK}"
CURL=(curl --silent --show-error --max-time 20)

source "${TEST_SRCDIR}/asap/tests/cli/testlib.sh"


now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# request ID [INPUT_JSON]: a JSON-RPC asap.send request for the echo agent.
request() {
  local input='{"text": "hi from curl"}'
  [[ -z "${2:-}" ]] || input="$2"
  cat <<EOF
{"jsonrpc": "2.0", "method": "asap.send", "id": "$1", "params": {"envelope": {
  "asap_version": "0.1", "timestamp": "$(now)",
  "sender": "urn:asap:agent:curl-test", "recipient": "urn:asap:agent:echo",
  "payload_type": "task.request",
  "payload": {"conversation_id": "c1", "skill_id": "echo",
              "input": ${input}}}}}
EOF
}

[[ -x "${ASAP}" ]] || die "no asap binary at ${ASAP}"

# --- start the server -----------------------------------------------------------

start_server "${WORK}/serve" "${ASAP}" serve --port 0 --http-port 0
HTTP=$(await_server_line "http listening on ") ||
  die "asap serve did not print 'http listening on'"
[[ "${HTTP}" =~ ^127\.0\.0\.1:[1-9][0-9]*$ ]] || die "bad http address '${HTTP}'"
pass "serve --http-port 0: http listening on ${HTTP}"
URL="http://${HTTP}/asap"

# check_ok FILE ID: FILE holds a JSON-RPC result for request ID from the echo
# agent.
check_ok() {
  grep -qF '"jsonrpc":"2.0"' "$1" && grep -qF '"result"' "$1" &&
    grep -qF "\"id\":\"$2\"" "$1" && grep -qF '"task.response"' "$1" &&
    grep -qF '"sender":"urn:asap:agent:echo"' "$1"
}

# --- h2c with prior knowledge ---------------------------------------------------

request h2 >"${WORK}/h2.json"
version=$("${CURL[@]}" --http2-prior-knowledge -o "${WORK}/h2.out" \
  -w '%{http_version} %{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"${WORK}/h2.json" "${URL}" 2>"${WORK}/h2.err")
if [[ "${version}" == "2 200" ]] && check_ok "${WORK}/h2.out" h2; then
  pass "h2c POST /asap: HTTP/${version}, result from the echo agent"
else
  fail "h2c POST /asap: got '${version}' $(cat "${WORK}/h2.out" "${WORK}/h2.err")"
fi

# --- HTTP/1.1 -------------------------------------------------------------------

request h1 >"${WORK}/h1.json"
version=$("${CURL[@]}" --http1.1 -o "${WORK}/h1.out" \
  -w '%{http_version} %{http_code} %{content_type}' \
  -H 'Content-Type: application/json' \
  --data-binary @"${WORK}/h1.json" "${URL}" 2>"${WORK}/h1.err")
if [[ "${version}" == "1.1 200 application/json"* ]] &&
  check_ok "${WORK}/h1.out" h1; then
  pass "HTTP/1.1 POST /asap: ${version}"
else
  fail "HTTP/1.1 POST /asap: got '${version}' $(cat "${WORK}/h1.out" "${WORK}/h1.err")"
fi

# Compressed answer: gzip asked for, big enough to be compressed.
big=$(printf '"agent task %d", ' $(seq 300))
request gz "{\"rows\": [${big} \"end\"]}" >"${WORK}/gz.json"
"${CURL[@]}" -D "${WORK}/gz.headers" -o "${WORK}/gz.out" \
  -H 'Content-Type: application/json' -H 'Accept-Encoding: gzip' \
  --data-binary @"${WORK}/gz.json" "${URL}" 2>"${WORK}/gz.err"
if grep -qi '^content-encoding: gzip' "${WORK}/gz.headers" &&
  gzip -dc "${WORK}/gz.out" >"${WORK}/gz.plain" 2>/dev/null &&
  check_ok "${WORK}/gz.plain" gz && grep -qF '"agent task 300"' "${WORK}/gz.plain"; then
  pass "Accept-Encoding: gzip -> gzip-compressed answer"
else
  fail "Accept-Encoding: gzip: headers: $(tr '\r\n' '  ' <"${WORK}/gz.headers")"
fi

# --- 413: an 11 MiB body, and a gzip bomb ---------------------------------------

head -c $((11 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"${WORK}/big.body"
code=$("${CURL[@]}" -o "${WORK}/big.out" -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary @"${WORK}/big.body" \
  "${URL}" 2>"${WORK}/big.err")
if [[ "${code}" == 413 ]] && grep -qF '"detail"' "${WORK}/big.out"; then
  pass "11 MiB body (HTTP/1.1): 413 $(cat "${WORK}/big.out")"
else
  fail "11 MiB body (HTTP/1.1): got '${code}' $(head -c 300 "${WORK}/big.out") $(cat "${WORK}/big.err")"
fi

# h2c: the server answers 413 before the body is all sent, then resets the
# stream with NO_ERROR (RFC 9113 8.1). curl 7.88 reports that as error 92
# (fixed in curl 8.1), so nghttp (nghttp2-client) checks this one.
if command -v nghttp >/dev/null; then
  timeout 30 nghttp -v -d "${WORK}/big.body" -H 'content-type: application/json' \
    "${URL}" >"${WORK}/big2.out" 2>&1
  rst=$(grep -A1 'recv RST_STREAM' "${WORK}/big2.out" | grep -o 'error_code=[A-Z_]*' || true)
  if grep -q ':status: 413' "${WORK}/big2.out" &&
    grep -qF '{"detail":' "${WORK}/big2.out" &&
    [[ -z "${rst}" || "${rst}" == "error_code=NO_ERROR" ]]; then
    pass "11 MiB body (h2c, nghttp): 413"
  else
    fail "11 MiB body (h2c, nghttp): $(grep -E 'status|detail|RST|GOAWAY|error' "${WORK}/big2.out" | head -n 10)"
  fi
else
  echo "SKIP: 11 MiB body over h2c: no nghttp (nghttp2-client)"
fi

dd if=/dev/zero bs=1M count=50 status=none | gzip -9 >"${WORK}/bomb.gz"
code=$("${CURL[@]}" -o "${WORK}/bomb.out" -w '%{http_code}' \
  -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' \
  --data-binary @"${WORK}/bomb.gz" "${URL}" 2>"${WORK}/bomb.err")
if [[ "${code}" == 413 ]] && grep -qF '"detail"' "${WORK}/bomb.out"; then
  pass "gzip bomb ($(stat -c %s "${WORK}/bomb.gz") bytes -> 50 MiB): 413"
else
  fail "gzip bomb: got '${code}' $(cat "${WORK}/bomb.out" "${WORK}/bomb.err")"
fi

code=$("${CURL[@]}" -o "${WORK}/enc.out" -w '%{http_code}' \
  -H 'Content-Type: application/json' -H 'Content-Encoding: deflate' \
  --data-binary @"${WORK}/h1.json" "${URL}" 2>"${WORK}/enc.err")
if [[ "${code}" == 415 ]] && grep -qF 'Unsupported Content-Encoding: deflate' "${WORK}/enc.out"; then
  pass "Content-Encoding: deflate: 415"
else
  fail "Content-Encoding: deflate: got '${code}' $(cat "${WORK}/enc.out" "${WORK}/enc.err")"
fi

# --- HTTP/1.1 keep-alive: two URLs, one connection --------------------------------

request ka1 >"${WORK}/ka1.json"
request ka2 >"${WORK}/ka2.json"
connects=$("${CURL[@]}" --http1.1 -v \
  -H 'Content-Type: application/json' \
  --data-binary @"${WORK}/ka1.json" -o "${WORK}/ka1.out" -w '%{num_connects}\n' "${URL}" \
  --next --max-time 20 --http1.1 \
  -H 'Content-Type: application/json' \
  --data-binary @"${WORK}/ka2.json" -o "${WORK}/ka2.out" -w '%{num_connects}\n' "${URL}" \
  2>"${WORK}/ka.err" | tr '\n' ' ')
if [[ "${connects}" == "1 0 " ]] && grep -q 'Re-using existing connection' "${WORK}/ka.err" &&
  check_ok "${WORK}/ka1.out" ka1 && check_ok "${WORK}/ka2.out" ka2; then
  pass "HTTP/1.1 keep-alive: two requests, one connection (num_connects ${connects})"
else
  fail "HTTP/1.1 keep-alive: num_connects '${connects}' $(grep -E 'Connection|connect' "${WORK}/ka.err" | head -n 10)"
fi

# Two GETs on one connection too.
out=$("${CURL[@]}" --http1.1 -w '%{http_code} %{num_connects}\n' \
  -o /dev/null -o /dev/null \
  "http://${HTTP}/health" "http://${HTTP}/.well-known/asap/manifest.json" 2>&1 | tr '\n' ' ')
if [[ "${out}" == "200 1 200 0 " ]]; then
  pass "GET /health then the manifest on one connection"
else
  fail "GET /health + manifest: '${out}'"
fi

# --- still up -------------------------------------------------------------------

kill -0 "${SERVER_PID}" 2>/dev/null || die "asap serve died"
request last >"${WORK}/last.json"
code=$("${CURL[@]}" -o "${WORK}/last.out" -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary @"${WORK}/last.json" \
  "${URL}" 2>"${WORK}/last.err")
if [[ "${code}" == 200 ]] && check_ok "${WORK}/last.out" last; then
  pass "the server still answers after the bad requests"
else
  fail "last request: got '${code}' $(cat "${WORK}/last.out" "${WORK}/last.err")"
fi

finish
