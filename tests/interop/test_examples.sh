#!/usr/bin/env bash
# Runs the API examples of examples/*.c (the code the guides in docs/ are
# built from) and checks what they do, against smtpkit-recv, swaks and each
# other:
#   custom_io       client and server over a hand-written smtpkit_io, in one process
#   send_one        smtpkit_send() into smtpkit-recv's Maildir
#   client_session  the sans-I/O client over its own poll() loop, 3 messages, one connection
#   compose_send    the message builder (attachment, Bcc) and smtpkit_send()
#   server_loop     the library's event loop (smtpkit_loop) fed by swaks
#   server_epoll    the server session in a caller-owned epoll loop, fed by swaks
#                   (pipelining, an attachment, an asynchronous RCPT refusal) and by
#                   send_one / client_session into its --store directory; SIGTERM
#   server_static   static memory only: its no-allocation-after-start-up check passes
#                   over a whole conversation, and fails when the rule is broken
#   security_checks smuggling, STARTTLS and header injection attempts, all refused
#   parse_demo      the push parsers over a recorded conversation
#   demo.sh         the README's end-to-end demo (with this build's tools)
set -uo pipefail
BIN=${SMTPKIT_BIN_DIR:?}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
pass=0
fails=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { # description, command...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
# Wait for "listening on ADDR:PORT" in a file; print the port.
listen_port() {
  for _ in $(seq 200); do
    if grep -q "listening on" "$1" 2>/dev/null; then
      sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -1
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# ---- custom_io -------------------------------------------------------------
out=$(timeout 30 "$BIN/custom_io" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "arrived byte for byte" <<<"$out" &&
   grep -q "^.a line that starts with a dot" <<<"$out"; then
  ok "custom_io: client and server over a custom smtpkit_io, message intact"
else bad "custom_io: rc=$rc"; echo "$out"; fi

# ---- a receiver for the client examples --------------------------------------
"$BIN/smtpkit-recv" --listen 127.0.0.1:0 --maildir "$WORK/md" >"$WORK/recv.out" 2>&1 &
RECV=$!
if ! port=$(listen_port "$WORK/recv.out"); then
  bad "smtpkit-recv did not start"; cat "$WORK/recv.out"; echo "$pass passed, $((fails)) failed"; exit 1
fi

# ---- send_one ----------------------------------------------------------------
out=$(timeout 30 "$BIN/send_one" "127.0.0.1:$port" ann@example.org bob@example.net 2>&1); rc=$?
files=$(ls "$WORK/md/new" 2>/dev/null | wc -l)
if [ $rc -eq 0 ] && [ "$files" -eq 1 ] && grep -q "^message: 250" <<<"$out" &&
   grep -q "^Subject: sent with smtpkit_send()" "$WORK"/md/new/*; then
  ok "send_one: smtpkit_send() delivered into the Maildir ($(tail -1 <<<"$out"))"
else bad "send_one: rc=$rc files=$files"; echo "$out"; fi

out=$(timeout 30 "$BIN/send_one" "127.0.0.1:$port" ann@example.org $'bob@example.net\r\nRCPT TO:<x@y>' 2>&1); rc=$?
files=$(ls "$WORK/md/new" 2>/dev/null | wc -l)
if [ $rc -eq 1 ] && [ "$files" -eq 1 ] && grep -q "CR, LF" <<<"$out"; then
  ok "send_one: an address with CRLF is refused before connecting"
else bad "send_one injection: rc=$rc files=$files"; echo "$out"; fi

# ---- client_session ------------------------------------------------------------
out=$(timeout 30 "$BIN/client_session" "127.0.0.1:$port" ann@example.org bob@example.net 3 2>&1); rc=$?
files=$(ls "$WORK/md/new" 2>/dev/null | wc -l)
n_ehlo=$(grep -c "^C: EHLO" <<<"$out")
if [ $rc -eq 0 ] && [ "$files" -eq 4 ] && [ "$n_ehlo" -eq 1 ] &&
   grep -q "3 of 3 message(s) accepted" <<<"$out" &&
   grep -l "^Subject: message 3 of 3" "$WORK"/md/new/* >/dev/null; then
  ok "client_session: 3 messages over one connection (one EHLO), all stored"
else bad "client_session: rc=$rc files=$files ehlo=$n_ehlo"; echo "$out"; fi
# ---- compose_send ------------------------------------------------------------------
printf 'attached bytes\n' >"$WORK/att.txt"
out=$(timeout 30 "$BIN/compose_send" "127.0.0.1:$port" ann@example.org bob@example.net "$WORK/att.txt" 2>&1); rc=$?
f=$(ls -t "$WORK"/md/new/* | head -1)
if [ $rc -eq 0 ] && [ "$(ls "$WORK/md/new" | wc -l)" -eq 5 ] && grep -q "to 2 recipient(s): success; 250" <<<"$out" &&
   grep -q '^Content-Disposition: attachment; filename="att.txt"' "$f" && grep -q "^YXR0YWNoZWQgYnl0ZXMK" "$f" &&
   grep -q "^Subject: Rapport trimestriel =?UTF-8?" "$f" && ! grep -qi "^Bcc:" "$f" &&
   grep -q "to=<bob@example.net>,<archive@example.org>" "$WORK/recv.out"; then
  ok "compose_send: MIME message with an attachment stored; Bcc in the envelope only"
else bad "compose_send: rc=$rc"; echo "$out"; cat "$f" "$WORK/recv.out"; fi
kill $RECV; wait $RECV 2>/dev/null

# ---- server_loop ---------------------------------------------------------------
"$BIN/server_loop" --count 1 127.0.0.1:0 >"$WORK/loop.out" 2>&1 &
LP=$!
if port=$(listen_port "$WORK/loop.out"); then
  timeout 30 swaks --server "127.0.0.1:$port" --from a@example.org --to b@example.net \
    --header "Subject: loop test" >"$WORK/swaks.out" 2>&1; rc=$?
  timeout 10 tail --pid=$LP -f /dev/null; wait $LP; erc=$?
  if [ $rc -eq 0 ] && [ $erc -eq 0 ] && grep -q "^Received: from .*(\[127.0.0.1\])" "$WORK/loop.out" &&
     grep -q "by server-loop.example with ESMTP id" "$WORK/loop.out" && grep -q "^Subject: loop test" "$WORK/loop.out"; then
    ok "server_loop --count 1: smtpkit_loop received a message with its Received: header, then stopped"
  else bad "server_loop: swaks rc=$rc exit=$erc"; cat "$WORK/swaks.out" "$WORK/loop.out"; fi
else bad "server_loop did not start"; cat "$WORK/loop.out"; fi

# ---- server_epoll --------------------------------------------------------------
"$BIN/server_epoll" --once 127.0.0.1:0 >"$WORK/epoll.out" 2>&1 &
EP=$!
if port=$(listen_port "$WORK/epoll.out"); then
  timeout 30 swaks --server "127.0.0.1:$port" --from a@example.org \
    --to b@example.net,nobody@example.net --pipeline --attach-type text/plain \
    --attach "@$WORK/att.txt" --header "Subject: epoll test" >"$WORK/swaks.out" 2>&1
  rc=$?
  timeout 10 tail --pid=$EP -f /dev/null; wait $EP; erc=$?
  if [ $rc -eq 0 ] && [ $erc -eq 0 ] && grep -q "550 5.1.1 No such user here" "$WORK/swaks.out" &&
     grep -q "^<-  250 2.1.5" "$WORK/swaks.out" && grep -q "^Subject: epoll test" "$WORK/epoll.out" &&
     grep -q "YXR0YWNoZWQgYnl0ZXMK" "$WORK/epoll.out" && grep -q "^---- end of message 1" "$WORK/epoll.out"; then
    ok "server_epoll --once: swaks pipelined, async RCPT lookup refused nobody@, message printed, exit 0"
  else bad "server_epoll --once: swaks rc=$rc exit=$erc"; cat "$WORK/swaks.out" "$WORK/epoll.out"; fi
else bad "server_epoll did not start"; cat "$WORK/epoll.out"; fi

"$BIN/server_epoll" --store "$WORK/st" 127.0.0.1:0 >"$WORK/epoll2.out" 2>&1 &
EP=$!
if port=$(listen_port "$WORK/epoll2.out"); then
  pids=()
  for _ in 1 2 3; do
    timeout 30 "$BIN/send_one" "127.0.0.1:$port" ann@example.org bob@example.net >/dev/null 2>&1 & pids+=($!)
  done
  timeout 30 "$BIN/client_session" "127.0.0.1:$port" ann@example.org bob@example.net 4 >"$WORK/cs.out" 2>&1
  rc=$?
  for p in "${pids[@]}"; do wait "$p" || rc=99; done
  stored=$(ls "$WORK/st/new" | wc -l); left=$(ls "$WORK/st/tmp" | wc -l)
  # a client that connects and stays silent gets 421 when the server stops
  exec 3<>"/dev/tcp/127.0.0.1/$port"; IFS= read -r -t 5 greet <&3
  kill -TERM $EP; IFS= read -r -t 5 bye <&3; exec 3<&-
  timeout 10 tail --pid=$EP -f /dev/null; wait $EP; erc=$?
  if [ $rc -eq 0 ] && [ "$stored" -eq 7 ] && [ "$left" -eq 0 ] && [ $erc -eq 0 ] &&
     [[ $greet == 220* ]] && [[ $bye == "421 4.3.2"* ]]; then
    ok "server_epoll --store: 7 messages from 4 concurrent clients stored, none left in tmp; SIGTERM: 421, exit 0"
  else bad "server_epoll --store: rc=$rc stored=$stored left=$left exit=$erc greet='$greet' bye='$bye'"
    cat "$WORK/cs.out" "$WORK/epoll2.out"; fi
else bad "server_epoll --store did not start"; cat "$WORK/epoll2.out"; fi

# ---- server_static ---------------------------------------------------------------
conv=$'EHLO x\r\n'
for i in 1 2 3; do conv+=$'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'"Subject: static $i"$'\r\n\r\n..dotted line\r\n.\r\n'; done
conv+=$'QUIT\r\n'
out=$(printf '%s' "$conv" | timeout 30 "$BIN/server_static" -v 2>"$WORK/static.err"); rc=$?
n250=$(grep -c "^250 2.0.0" <<<"$out")
if [ $rc -eq 0 ] && [ "$n250" -eq 3 ] && grep -q ", 0 after start-up; 3 message(s) stored" "$WORK/static.err" &&
   grep -q ": success; 1 allocation(s) at start-up" "$WORK/static.err" &&
   grep -q "^Subject: static 3" "$WORK/static.err" && grep -q "^\.dotted line" "$WORK/static.err"; then
  ok "server_static: 3 pipelined messages, 1 allocation at start-up and none after ($(grep -o '[0-9]* bytes from the static pool' "$WORK/static.err"))"
else bad "server_static: rc=$rc n250=$n250"; echo "$out"; cat "$WORK/static.err"; fi

out=$(timeout 30 swaks --pipe "$BIN/server_static" --from a@example.org --to b@example.net \
  --attach "@$WORK/att.txt" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "0 after start-up; 1 message(s) stored" <<<"$out"; then
  ok "server_static under swaks --pipe (inetd style): stored, no allocation after start-up"
else bad "server_static swaks: rc=$rc"; echo "$out"; fi

out=$(printf 'QUIT\r\n' | timeout 30 "$BIN/server_static" --alloc-after-start 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "1 after start-up" <<<"$out" && grep -q FAILED <<<"$out"; then
  ok "server_static: the check catches an allocation after start-up"
else bad "server_static --alloc-after-start: rc=$rc"; echo "$out"; fi

# ---- security_checks -------------------------------------------------------------
out=$(timeout 30 "$BIN/security_checks" 2>&1); rc=$?
held=$(grep -c "^held " <<<"$out")
if [ $rc -eq 0 ] && [ "$held" -ge 10 ] && ! grep -q FAILED <<<"$out"; then
  ok "security_checks: $held attacks of docs/security.md stopped"
else bad "security_checks: rc=$rc held=$held"; echo "$out"; fi

# ---- parse_demo ----------------------------------------------------------------
out=$(timeout 30 "$BIN/parse_demo" 2>&1); rc=$?
check "parse_demo runs (rc=$rc)" test $rc -eq 0 -a -n "$out"

# ---- demo.sh (the README's first command), on the tools of this build ------------
out=$(SMTPKIT_DEMO_BIN="$BIN" timeout 60 bash "${SMTPKIT_SOURCE_DIR:?}/examples/demo.sh" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "^message: 250" <<<"$out" && grep -q '^Content-Disposition: attachment; filename="report.csv"' <<<"$out" &&
   grep -q "^Subject: Quarterly report" <<<"$out" && grep -q "exit status 0" <<<"$out"; then
  ok "demo.sh: receiver started, composed message with attachment sent, stored file shown, receiver stopped"
else bad "demo.sh: rc=$rc"; echo "$out"; fi

echo "$pass passed, $fails failed"
[ $fails -eq 0 ]
