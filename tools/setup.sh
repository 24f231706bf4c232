#!/usr/bin/env bash
# Installs the Debian packages asap builds against. Idempotent: packages that are
# already installed are skipped, and apt-get runs only when something is missing.
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java
  g++ pkg-config
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  libabsl-dev zlib1g-dev libbrotli-dev libjemalloc-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3 python3-grpcio python3-protobuf
  # The HTTP binding: Boost.Beast/Asio (HTTP/1.1), nghttp2 (HTTP/2),
  # RapidJSON (JSON-RPC framing); curl, h2load and httpx for its tests.
  libboost1.81-dev libnghttp2-dev rapidjson-dev
  # The client side of the HTTP binding: libcurl (multi interface, HTTP/2).
  libcurl4-openssl-dev
  # Security: JWT verification (libjwt) and TLS on the HTTP listener (OpenSSL).
  libjwt-dev libssl-dev
  # Shared state across replicas: the Redis client (hiredis) of the replay and
  # idempotency stores, and redis-server, which their tests start.
  libhiredis-dev redis-server
  # Replicas behind a real proxy: nginx (grpc_pass, proxy_pass), which the
  # replica tests and the chaos benchmark start with a generated config.
  nginx
  # `asap serve --config FILE`: the TOML parser (toml++).
  libtomlplusplus-dev
  # protoc-gen-asap, the plugin that generates typed agents from a .proto
  # (libprotoc), and the check that its JSON Schemas validate real inputs.
  libprotoc-dev python3-jsonschema
  # The TLS tests make their keys and certificates with openssl.
  openssl ca-certificates
  curl nghttp2-client python3-httpx python3-h2 python3-brotli
  # Sanitizer runtimes of g++ (--config=asan, --config=tsan); g++ pulls them
  # in today, listed so that stays true.
  libasan8 libubsan1 libtsan2
  # --config=fuzz: clang, its libFuzzer and sanitizer runtimes, and
  # llvm-symbolizer for readable stack traces.
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
