#!/usr/bin/env bash
# smtpkit end to end, from a fresh checkout on Debian or Ubuntu:
#   1. installs cmake, make and gcc if they are missing (apt-get, as root or
#      through sudo),
#   2. builds the library and the two tools (into build-demo/),
#   3. starts smtpkit-recv on a free loopback port with a temporary Maildir,
#   4. composes a message with an attachment and sends it with smtpkit-send,
#   5. shows the file the receiver stored, and stops the receiver.
# Nothing leaves the machine; the temporary directory is removed at the end.
# Environment: SMTPKIT_DEMO_BUILD (build directory, default build-demo),
# SMTPKIT_DEMO_BIN (use the tools in this directory instead of building).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# ---- 1. tools ---------------------------------------------------------------
if [ -z "${SMTPKIT_DEMO_BIN:-}" ]; then
  missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v make >/dev/null || missing+=(make)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -e /usr/include/stdio.h ] || missing+=(libc6-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""
    elif command -v sudo >/dev/null; then SUDO="sudo"
    else
      echo "demo: please install ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
      exit 1
    fi
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  # ---- 2. build -------------------------------------------------------------
  BUILD=${SMTPKIT_DEMO_BUILD:-build-demo}
  say "building smtpkit into $BUILD/"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSMTPKIT_BUILD_TESTS=OFF \
    -DSMTPKIT_BUILD_BENCH=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target smtpkit-recv smtpkit-send >/dev/null
  BIN=$BUILD/bin
else
  BIN=$SMTPKIT_DEMO_BIN
fi

# ---- 3. a receiver on loopback ------------------------------------------------
WORK=$(mktemp -d)
RECV=""
cleanup() {
  [ -n "$RECV" ] && kill "$RECV" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
say "starting smtpkit-recv on 127.0.0.1 (a free port) with the Maildir $WORK/Maildir"
"$BIN/smtpkit-recv" --listen 127.0.0.1:0 --maildir "$WORK/Maildir" >"$WORK/recv.out" 2>"$WORK/recv.log" &
RECV=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/recv.out")
  [ -n "$port" ] && break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "demo: smtpkit-recv did not start:" >&2
  cat "$WORK/recv.log" >&2
  exit 1
fi
cat "$WORK/recv.out"

# ---- 4. send a composed message with an attachment ------------------------------
printf 'name,quarter,total\nAnn,Q3,42\n' >"$WORK/report.csv"
say "sending a message with an attachment through smtpkit-send -v"
"$BIN/smtpkit-send" -v --server "127.0.0.1:$port" \
  --from ann@example.org --from-name "Ann Example" --to bob@example.net \
  --subject "Quarterly report" --text "Hello Bob, the report is attached." \
  --attach "$WORK/report.csv"

# ---- 5. the stored file, then stop ----------------------------------------------
stored=$(ls "$WORK/Maildir/new/")
say "the receiver stored $WORK/Maildir/new/$stored:"
cat "$WORK/Maildir/new/$stored"
say "receiver log"
cat "$WORK/recv.log"
kill -TERM "$RECV"
wait "$RECV" && status=$? || status=$?
RECV=""
say "smtpkit-recv stopped (exit status $status). Next: man docs/man/smtpkit-send.1, docs/sending.md"
