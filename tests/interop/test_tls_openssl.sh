#!/usr/bin/env bash
# The mbedTLS adapter against OpenSSL on loopback, both roles, implicit TLS
# (s_server reads commands from stdin: a line starting with "P" would make it send clear text)
# and STARTTLS: tls_peer (tests/interop/progs/tls_peer.c) vs `openssl
# s_server` / `openssl s_client`. Certificates are generated now.
set -uo pipefail
BIN=${SMTPKIT_BIN_DIR:?}
SRC=${SMTPKIT_SOURCE_DIR:?}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
bash "$SRC/tests/interop/tls_certs.sh" "$WORK/c" || { echo "cannot make certificates"; exit 1; }
C=$WORK/c
fails=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_listening() { for _ in $(seq 100); do grep -q listening "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# s_server for one connection; sends "250 PONG" a moment after the client connects.
s_server() { # port cert [extra args]
  local p=$1 cert=$2; shift 2
  (sleep 1; echo "250 PONG"; sleep 1) | timeout 20 openssl s_server -accept "$p" -cert "$C/$cert" \
    -key "$C/server.key" -naccept 1 "$@" >"$WORK/s_server.out" 2>&1 &
  # (probing the port would use up its one connection: wait for its banner)
  for _ in $(seq 200); do grep -q ACCEPT "$WORK/s_server.out" 2>/dev/null && return 0; sleep 0.05; done
}

# 1. our client, verified, against s_server; SNI is sent
p=$(port); s_server "$p" server.pem -tlsextdebug
out=$(timeout 20 "$BIN/tls_peer" client "$p" localhost --ca "$C/ca.pem" 2>"$WORK/err")
wait
if [ "$out" = "250 PONG" ] && grep -q "^PING" "$WORK/s_server.out" && grep -q "server name" "$WORK/s_server.out"; then
  ok "client verifies s_server's certificate, sends SNI, exchanges data ($(cat "$WORK/err" | tr -d '\n'))"
else bad "client vs s_server: out='$out' err=$(cat "$WORK/err")"; cat "$WORK/s_server.out"; fi

# 2. refusals by default
for case in "expired.pem:localhost:expired" "wrongname.pem:localhost:CN" "selfsigned.pem:localhost:not correctly signed" "server.pem:other.example:CN"; do
  IFS=: read -r cert name why <<<"$case"
  p=$(port); s_server "$p" "$cert"
  timeout 20 "$BIN/tls_peer" client "$p" "$name" --ca "$C/ca.pem" >"$WORK/out" 2>"$WORK/err"; rc=$?
  wait
  if [ $rc -eq 2 ] && grep -q "$why" "$WORK/err" && ! grep -q PING "$WORK/s_server.out"; then
    ok "client refuses $cert for $name: $(tail -1 "$WORK/err")"
  else bad "client accepted $cert for $name (rc=$rc): $(cat "$WORK/err")"; fi
done

# 3. ... unless told to be insecure
p=$(port); s_server "$p" wrongname.pem
out=$(timeout 20 "$BIN/tls_peer" client "$p" localhost --insecure 2>"$WORK/err"); wait
[ "$out" = "250 PONG" ] && ok "--insecure accepts a wrong-name certificate" || bad "insecure: '$out' $(cat "$WORK/err")"

# 4. s_client against our server (implicit TLS), verifying us
p=$(port)
"$BIN/tls_peer" server "$p" "$C/server.pem" "$C/server.key" >"$WORK/srv" 2>"$WORK/srv.err" &
wait_listening "$WORK/srv"
out=$(printf 'hello\nQUIT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$p" -CAfile "$C/ca.pem" \
  -servername localhost -verify_hostname localhost -verify_return_error -quiet -ign_eof 2>"$WORK/err")
wait
if printf '%s' "$out" | grep -q "echo: hello" && printf '%s' "$out" | grep -q "echo: QUIT"; then
  ok "openssl s_client verifies our server and exchanges data"
else bad "s_client vs server: '$out' $(cat "$WORK/err" "$WORK/srv.err")"; fi

# 5. s_client -starttls smtp against our server
p=$(port)
"$BIN/tls_peer" server "$p" "$C/server.pem" "$C/server.key" --starttls >"$WORK/srv" 2>"$WORK/srv.err" &
wait_listening "$WORK/srv"
out=$(printf 'EHLO after.tls\r\nQUIT\r\n' | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$p" \
  -CAfile "$C/ca.pem" -verify_hostname localhost -verify_return_error -quiet -ign_eof 2>"$WORK/err")
wait
if printf '%s' "$out" | grep -q "echo: EHLO after.tls"; then
  ok "openssl s_client -starttls smtp: STARTTLS handshake in place"
else bad "s_client -starttls smtp: '$out' $(cat "$WORK/err" "$WORK/srv.err")"; fi

# 6. TLS 1.1 is refused (TLS 1.2 minimum)
p=$(port)
"$BIN/tls_peer" server "$p" "$C/server.pem" "$C/server.key" >"$WORK/srv" 2>"$WORK/srv.err" &
spid=$!
wait_listening "$WORK/srv"
echo hi | timeout 20 openssl s_client -connect "127.0.0.1:$p" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' -quiet \
  >"$WORK/out" 2>"$WORK/err"; crc=$?
wait $spid; src=$?
if [ $crc -ne 0 ] && [ $src -eq 2 ] && ! grep -q "echo:" "$WORK/out"; then
  ok "TLS 1.1 refused: $(tail -1 "$WORK/srv.err")"
else bad "TLS 1.1 accepted? client rc=$crc server rc=$src $(cat "$WORK/out")"; fi

# 7. client certificates: required and given / required and missing
p=$(port)
"$BIN/tls_peer" server "$p" "$C/server.pem" "$C/server.key" --ca "$C/ca.pem" --client-cert required \
  >"$WORK/srv" 2>"$WORK/srv.err" &
wait_listening "$WORK/srv"
out=$(printf 'hi\nQUIT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$p" -CAfile "$C/ca.pem" \
  -cert "$C/client.pem" -key "$C/client.key" -quiet -ign_eof 2>/dev/null)
wait
if printf '%s' "$out" | grep -q "echo: hi" && grep -q "client certificate verified: CN=smtpkit-client" "$WORK/srv.err"; then
  ok "client certificate required and verified"
else bad "client cert: '$out' $(cat "$WORK/srv.err")"; fi
p=$(port)
"$BIN/tls_peer" server "$p" "$C/server.pem" "$C/server.key" --ca "$C/ca.pem" --client-cert required \
  >"$WORK/srv" 2>"$WORK/srv.err" &
spid=$!
wait_listening "$WORK/srv"
printf 'hi\nQUIT\n' | timeout 20 openssl s_client -connect "127.0.0.1:$p" -CAfile "$C/ca.pem" -quiet -ign_eof \
  >"$WORK/out" 2>/dev/null
wait $spid; src=$?
if [ $src -eq 2 ] && ! grep -q "echo:" "$WORK/out"; then ok "missing client certificate refused"
else bad "missing client cert accepted (rc=$src)"; fi

# 8. our client and our server, STARTTLS on both sides
p=$(port)
"$BIN/tls_peer" server "$p" "$C/server.pem" "$C/server.key" --starttls >"$WORK/srv" 2>"$WORK/srv.err" &
wait_listening "$WORK/srv"
out=$(timeout 20 "$BIN/tls_peer" client "$p" localhost --ca "$C/ca.pem" --starttls 2>"$WORK/err")
wait
if printf '%s' "$out" | grep -q "echo: EHLO again.example" && printf '%s' "$out" | grep -q "echo: QUIT"; then
  ok "our client and server: STARTTLS ($(cat "$WORK/err" | tr -d '\n'))"
else bad "loopback starttls: '$out' $(cat "$WORK/err" "$WORK/srv.err")"; fi

[ $fails -eq 0 ] && echo "all TLS interop checks passed" || echo "$fails TLS interop check(s) failed"
exit $((fails > 0))
