#!/usr/bin/env bash
# Generate the TLS test certificates at test time (no private key is ever
# committed): tls_certs.sh DIR
#   ca.pem ca.key                   a test CA
#   server.pem server.key           localhost (DNS:localhost, IP:127.0.0.1), signed by the CA
#   expired.pem                     localhost, same key, valid only during 2020
#   wrongname.pem                   wrong.example, same key
#   selfsigned.pem                  localhost, self-signed (untrusted), same key
#   client.pem client.key           a client certificate (CN=smtpkit-client), signed by the CA
# Idempotent: does nothing when DIR/ca.pem exists.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
[ -f ca.pem ] && [ -f client.pem ] && exit 0

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=smtpkit test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem 2>/dev/null

key server.key
key client.key

# `openssl ca` sets explicit validity dates, which the expired certificate needs.
mkdir -p ca.db
: > ca.db/index.txt
echo 1000 > ca.db/serial
cat > ca.cnf <<CNF
[ ca ]
default_ca = test
[ test ]
dir = .
database = ca.db/index.txt
serial = ca.db/serial
new_certs_dir = ca.db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = \$ENV::SAN
[ client_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF

sign() { # out key cn ext san start end
  local out=$1 k=$2 cn=$3 ext=$4 san=$5 start=$6 end=$7
  openssl req -new -key "$k" -subj "/CN=$cn" -out "$out.csr" 2>/dev/null
  SAN=$san openssl ca -batch -config ca.cnf -extensions "$ext" -in "$out.csr" -out "$out" \
    -startdate "$start" -enddate "$end" -notext 2>/dev/null
  rm -f "$out.csr"
}
now=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
later=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
sign server.pem server.key localhost server_ext "DNS:localhost,IP:127.0.0.1" "$now" "$later"
sign expired.pem server.key localhost server_ext "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20201231235959Z
sign wrongname.pem server.key wrong.example server_ext "DNS:wrong.example" "$now" "$later"
sign client.pem client.key smtpkit-client client_ext "DNS:unused.invalid" "$now" "$later"
openssl req -x509 -new -key server.key -sha256 -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost" -out selfsigned.pem 2>/dev/null
chmod 600 ./*.key
