#!/usr/bin/env bash
# A secured agent end to end: makes a CA and certificates with openssl and a
# random bearer token, starts the echo agent with TLS on both bindings, the
# token table and rate limits, then sends one envelope over gRPC and one over
# HTTPS with the token, and shows the refusals: no token, another agent's
# sender, plaintext.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup.sh
bazel build //tools/cli:asap >&2
asap=bazel-bin/tools/cli/asap

dir=$(mktemp -d)
log="$dir/server.log"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# 1. Certificates: a CA, and a server certificate for localhost/127.0.0.1.
bash tests/testing/make_test_certs.sh "$dir/certs"
# 2. A token for the agent urn:asap:agent:alice, one "TOKEN URN" a line.
token=$(openssl rand -hex 24)
echo "$token urn:asap:agent:alice" >"$dir/tokens"
chmod 600 "$dir/tokens"

# 3. The agent: TLS on gRPC and HTTP, bearer tokens, the reference's limits.
"$asap" serve --port 0 --http-port 0 \
  --tls-cert "$dir/certs/server.pem" --tls-key "$dir/certs/server.key" \
  --auth-tokens "$dir/tokens" --rate-limit 10/s,100/min >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^http listening on ' "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
grpc=$(sed -n 's/^listening on //p' "$log")
https=$(sed -n 's/^http listening on //p' "$log")
[ -n "$https" ] || { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
echo "secured echo agent: gRPC+TLS on $grpc, HTTPS on $https"

envelope() {
  echo "{\"asap_version\":\"0.1\",\"sender\":\"$1\",\"recipient\":\"urn:asap:agent:echo\",\"payload_type\":\"task.request\",\"payload\":{\"conversation_id\":\"c1\",\"skill_id\":\"echo\",\"input\":{\"text\":\"$2\"}}}"
}
envelope urn:asap:agent:alice "hello, securely" >"$dir/alice.json"
envelope urn:asap:agent:bob "pretending to be bob" >"$dir/bob.json"
tls=(--ca "$dir/certs/ca.pem" --server-name localhost)

echo "--- asap send over gRPC with TLS and the token"
"$asap" send --target "$grpc" "${tls[@]}" --token "$token" "$dir/alice.json"
echo "--- asap send over HTTPS (HTTP/2 by ALPN) with the token"
"$asap" send --target "https://localhost:${https##*:}" --ca "$dir/certs/ca.pem" \
  --token "$token" "$dir/alice.json"

# Each of these must be refused; the example fails if one is served.
refused() {
  echo "--- refused: $1"
  shift
  if "$asap" send "$@"; then
    echo "expected a refusal, but the call was served" >&2
    exit 1
  fi
}
refused "no token" --target "$grpc" "${tls[@]}" "$dir/alice.json"
refused "alice's token, bob's sender" --target "https://localhost:${https##*:}" \
  --ca "$dir/certs/ca.pem" --token "$token" "$dir/bob.json"
refused "plaintext against the TLS port" --target "$grpc" --timeout 3 \
  "$dir/alice.json"
echo "secure agent example: all as expected"
