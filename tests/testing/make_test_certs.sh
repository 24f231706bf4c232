#!/usr/bin/env bash
# Makes the keys and certificates of the TLS tests in DIR, with openssl, at
# test time (no private key is ever committed). P-256 keys, valid for two
# days unless said otherwise:
#   ca.pem ca.key                a test CA
#   server.pem server.key        signed by it, for localhost and 127.0.0.1
#   client.pem client.key        signed by it, a client certificate whose
#                                SAN is the agent URN urn:asap:agent:tls-client
#   expired.pem expired.key      like server.pem, but valid only in 2020
#   other_ca.pem                 another CA, which signed none of the above
#
#   bash make_test_certs.sh DIR
set -euo pipefail
dir="$1"
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat >ca.cnf <<'CNF'
[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
: >index.txt
echo 1000 >serial

key ca.key
openssl req -x509 -key ca.key -out ca.pem -days 2 -subj "/CN=asap test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# sign NAME SUBJECT SAN USAGE [openssl ca date options...]
sign() {
  local name=$1 subject=$2 san=$3 usage=$4
  shift 4
  key "$name.key"
  openssl req -new -key "$name.key" -out "$name.csr" -subj "$subject" \
    -addext "subjectAltName=$san" -addext "extendedKeyUsage=$usage" \
    -addext "basicConstraints=CA:FALSE" 2>/dev/null
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -notext \
    -in "$name.csr" -out "$name.pem" "$@" >/dev/null 2>&1
  rm -f "$name.csr"
}

sign server "/CN=localhost" "DNS:localhost,IP:127.0.0.1" serverAuth -days 2
sign client "/CN=tls-client" "URI:urn:asap:agent:tls-client" clientAuth -days 2
sign expired "/CN=localhost" "DNS:localhost,IP:127.0.0.1" serverAuth \
  -startdate 20200101000000Z -enddate 20200102000000Z

key other_ca.key
openssl req -x509 -key other_ca.key -out other_ca.pem -days 2 \
  -subj "/CN=another test CA" -addext "basicConstraints=critical,CA:TRUE" \
  2>/dev/null
rm -f other_ca.key
