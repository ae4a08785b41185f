#!/usr/bin/env bash
# Soak benchmark (not part of tests/run.sh): Postfix's smtp-source sends
# 200,000 messages over 100 concurrent sessions to smtpkit-recv delivering
# into a Maildir on a tmpfs. Afterwards:
#   - the Maildir holds exactly 200,000 messages, each byte for byte what
#     smtp-source sent (after our Received: header), each with its own id;
#   - tmp/ is empty;
#   - smtpkit-recv's RSS at the end is within 10% of its RSS after the
#     first 10,000 messages;
#   - no file descriptor leaked (/proc/PID/fd has as many entries as before);
# then a 1 GB message streams through (tests/interop/test_hostile_limits.py
# with SMTPKIT_BIG_MB=1024: under and over --max-size, RSS flat).
#
#   tests/bench/soak.sh                 # builds a release build in build-soak
#   SOAK_MESSAGES=20000 tests/bench/soak.sh    # a shorter run
#   SMTPKIT_BIN_DIR=/path/to/bin tests/bench/soak.sh   # use existing binaries
#
# Bounded: smtp-source runs under `timeout` (SOAK_TIMEOUT, default 900 s).
# Needs smtp-source (postfix), python3; root for its own tmpfs (else /dev/shm).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
N=${SOAK_MESSAGES:-200000}
FIRST=${SOAK_FIRST:-10000}
SESSIONS=${SOAK_SESSIONS:-100}
LIMIT=${SOAK_TIMEOUT:-900}
SOURCE=/usr/sbin/smtp-source
[ -x "$SOURCE" ] || { echo "soak: $SOURCE not found (apt-get install postfix)" >&2; exit 2; }
[ "$N" -gt "$FIRST" ] || { echo "soak: SOAK_MESSAGES must exceed $FIRST" >&2; exit 2; }

if [ -z "${SMTPKIT_BIN_DIR:-}" ]; then
  echo "== release build (build-soak)"
  MBEDTLS_OPT=""
  [ -f /usr/include/mbedtls/ssl.h ] && MBEDTLS_OPT="-DSMTPKIT_WITH_MBEDTLS=ON"
  cmake -S . -B build-soak -DCMAKE_BUILD_TYPE=Release -DSMTPKIT_BUILD_TESTS=ON $MBEDTLS_OPT >/dev/null
  cmake --build build-soak -j"${JOBS:-2}" --target smtpkit-recv >/dev/null
  SMTPKIT_BIN_DIR=$ROOT/build-soak/bin
fi
RECV=$SMTPKIT_BIN_DIR/smtpkit-recv

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpkit-soak.XXXXXX")
mounted=0
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ $mounted = 1 ] && umount -l "$work/fs" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/fs"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4g,mode=0700 smtpkit-soak "$work/fs" 2>/dev/null; then
  mounted=1
  fsdesc="its own tmpfs"
elif [ -d /dev/shm ]; then
  rmdir "$work/fs"
  ln -s "$(mktemp -d /dev/shm/smtpkit-soak.XXXXXX)" "$work/fs"
  fsdesc="/dev/shm"
else
  echo "soak: no tmpfs for the Maildir" >&2
  exit 2
fi
MD=$work/fs/Maildir

# ~2 KB with dot lines; smtp-source turns LF into CRLF, stuffs dots, and
# adds CRLF before the final "." (see tests/interop/test_recv_smtp_source.py)
python3 - "$work/msg.txt" <<'EOF'
import sys
text = b"Subject: soak\nFrom: <sender@example.org>\n\n" + b"".join(
    (b"." if i % 7 == 0 else b"") + b"soak line %03d, some text to fill the line up to a length\n" % i
    for i in range(32))
open(sys.argv[1], "wb").write(text)
EOF

"$RECV" --listen 127.0.0.1:0 --maildir "$MD" --hostname mx.soak.example --quiet \
  --max-sessions 1000 >"$work/recv.out" 2>"$work/recv.err" &
pid=$!
for _ in $(seq 100); do grep -q "^listening on" "$work/recv.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/recv.out")
[ -n "$port" ] || { echo "soak: smtpkit-recv did not start:" >&2; cat "$work/recv.err" >&2; exit 1; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
fd0=$(fds)
rss0=$(rss)

send() { # send COUNT messages over min(SESSIONS, COUNT) sessions
  timeout "$LIMIT" "$SOURCE" -s "$SESSIONS" -m "$1" -d -F "$work/msg.txt" -f sender@example.org \
    -t rcpt@example.net -M client.soak.example "127.0.0.1:$port"
}
echo "== soak: $N messages over $SESSIONS sessions to smtpkit-recv (Maildir on $fsdesc)"
t0=$(date +%s.%N)
send "$FIRST"
t1=$(date +%s.%N)
rss_first=$(rss)
send $((N - FIRST))
t2=$(date +%s.%N)
sleep 1 # the last sessions close
rss_end=$(rss)
fd_end=$(fds)
count=$(ls "$MD/new" | wc -l)
tmpcount=$(ls "$MD/tmp" | wc -l)

echo "== checking $count messages byte for byte"
exact=0
python3 - "$MD" "$work/msg.txt" "$N" <<'EOF' || exact=1
import os, sys
md, msgfile, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
expect = open(msgfile, "rb").read().replace(b"\n", b"\r\n") + b"\r\n"
names = os.listdir(os.path.join(md, "new"))
bad = 0
ids = set()
for name in names:
    with open(os.path.join(md, "new", name), "rb") as f:
        m = f.read()
    # our Received: header and its folded lines, then the message
    j = 0
    while True:
        j = m.find(b"\r\n", j) + 2
        if j < 2 or m[j:j + 1] not in (b" ", b"\t"):
            break
    hdr, body = m[:j], m[j:]
    if not hdr.startswith(b"Received: from client.soak.example") or body != expect:
        bad += 1
        if bad <= 3:
            print("differs: %s %r" % (name, m[:300]))
    ids.add(hdr.split(b" id ")[1].split(b";")[0] if b" id " in hdr else None)
print("messages %d, byte-exact %d, distinct ids %d" % (len(names), len(names) - bad, len(ids)))
sys.exit(0 if len(names) == n and bad == 0 and len(ids) == n else 1)
EOF

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
awk -v n="$N" -v first="$FIRST" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v r0="$rss0" -v rf="$rss_first" \
    -v re="$rss_end" -v f0="$fd0" -v fe="$fd_end" 'BEGIN {
  printf "   %d messages in %.1f s (%.0f msg/s); first %d in %.1f s\n", n, t2 - t0, n / (t2 - t0), first, t1 - t0
  printf "   RSS: %d KiB at start, %d KiB after %d, %d KiB at the end (%+.1f%%)\n", r0, rf, first, re, (re - rf) * 100.0 / rf
  printf "   fds: %d at start, %d at the end\n", f0, fe }'
fail=0
[ "$count" -eq "$N" ] || { echo "FAIL: $count messages in new/, expected $N"; fail=1; }
[ "$tmpcount" -eq 0 ] || { echo "FAIL: $tmpcount files left in tmp/"; fail=1; }
[ "$exact" -eq 0 ] || { echo "FAIL: messages not byte-exact or ids not distinct"; fail=1; }
awk -v a="$rss_first" -v b="$rss_end" 'BEGIN { exit !(b <= a * 1.10) }' ||
  { echo "FAIL: RSS grew more than 10% after the first $FIRST messages"; fail=1; }
[ "$fd_end" -eq "$fd0" ] || { echo "FAIL: file descriptors leaked ($fd0 -> $fd_end)"; fail=1; }
[ "$rc" -eq 0 ] || { echo "FAIL: smtpkit-recv exited $rc after SIGTERM"; fail=1; }
cleanup
trap - EXIT

echo "== a 1 GB message through smtpkit-recv (--sink), under and over --max-size"
SMTPKIT_BIN_DIR=$SMTPKIT_BIN_DIR SMTPKIT_SOURCE_DIR=$ROOT SMTPKIT_BIG_MB=${SOAK_BIG_MB:-1024} \
  python3 tests/interop/test_hostile_limits.py || fail=1

[ $fail -eq 0 ] && echo "== soak: passed"
exit $fail
