#!/usr/bin/env bash
# A secured agent end to end: makes a CA and certificates with openssl and a
# random bearer token, starts the echo agent with TLS on both bindings, the
# token table and rate limits, then sends one envelope over gRPC and one over
# HTTPS with the token, and shows the refusals: no token, another agent's
# sender, plaintext.
source "$(dirname "$0")/../common/agent.sh"
build_example //tools/cli:asap
asap=bazel-bin/tools/cli/asap
dir=$(mktemp -d)
on_exit 'rm -rf "$dir"'

# 1. Certificates: a CA, and a server certificate for localhost/127.0.0.1.
bash tests/testing/make_test_certs.sh "$dir/certs"
# 2. A token for the agent urn:asap:agent:alice, one "TOKEN URN" a line.
token=$(openssl rand -hex 24)
echo "$token urn:asap:agent:alice" >"$dir/tokens"
chmod 600 "$dir/tokens"

# 3. The agent: TLS on gRPC and HTTP, bearer tokens, the reference's limits.
start_agent --http "$asap" serve --port 0 --http-port 0 \
  --tls-cert "$dir/certs/server.pem" --tls-key "$dir/certs/server.key" \
  --auth-tokens "$dir/tokens" --rate-limit 10/s,100/min
echo "secured echo agent: gRPC+TLS on $GRPC_ADDRESS, HTTPS on $HTTP_ADDRESS"
https="https://localhost:${HTTP_ADDRESS##*:}"  # the name the certificate has

envelope() {
  echo "{\"asap_version\":\"0.1\",\"sender\":\"$1\",\"recipient\":\"urn:asap:agent:echo\",\"payload_type\":\"task.request\",\"payload\":{\"conversation_id\":\"c1\",\"skill_id\":\"echo\",\"input\":{\"text\":\"$2\"}}}"
}
envelope urn:asap:agent:alice "hello, securely" >"$dir/alice.json"
envelope urn:asap:agent:bob "pretending to be bob" >"$dir/bob.json"
tls=(--ca "$dir/certs/ca.pem" --server-name localhost)

echo "--- asap send over gRPC with TLS and the token"
"$asap" send --target "$GRPC_ADDRESS" "${tls[@]}" --token "$token" \
  "$dir/alice.json"
echo "--- asap send over HTTPS (HTTP/2 by ALPN) with the token"
"$asap" send --target "$https" --ca "$dir/certs/ca.pem" \
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
refused "no token" --target "$GRPC_ADDRESS" "${tls[@]}" "$dir/alice.json"
refused "alice's token, bob's sender" --target "$https" \
  --ca "$dir/certs/ca.pem" --token "$token" "$dir/bob.json"
refused "plaintext against the TLS port" --target "$GRPC_ADDRESS" --timeout 3 \
  "$dir/alice.json"
echo "secure agent example: all as expected"
