#!/usr/bin/env bash
# The test suite under valgrind memcheck (a build without sanitizers: the
# two do not mix):
#
#   tests/valgrind.sh          # JOBS=N, BUILD=dir (default build-valgrind)
#
# 1. every unit test and every fuzz corpus replay under memcheck
#    (--leak-check=full; any error or definite leak fails);
# 2. smtpkit-recv and smtpkit-send themselves under memcheck, driven by the
#    interop tests against real peers (swaks, smtplib, smtp-source, curl,
#    aiosmtpd, smtp-sink) and by the fault tests (a connection cut at every
#    byte, the disk full): SMTPKIT_BIN_DIR points at wrappers that run the
#    real programs under valgrind --error-exitcode=99, so an error makes the
#    program exit 99 and the test fail; every log is checked afterwards.
#
# Not part of tests/run.sh: it takes several minutes. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=${BUILD:-build-valgrind}
case $BUILD in /*) ;; *) BUILD=$BUILD ;; esac
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }

MBEDTLS_OPT=""
[ -f /usr/include/mbedtls/ssl.h ] && MBEDTLS_OPT="-DSMTPKIT_WITH_MBEDTLS=ON"
# somalloc=nouserintercepts: a test that defines malloc itself to count
# allocations (test_command.c) keeps its own, which calls into the libc
# one that valgrind replaces
VG_OPTS="--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --track-fds=no"
VG_OPTS="$VG_OPTS --soname-synonyms=somalloc=nouserintercepts"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DSMTPKIT_SANITIZE=OFF \
  -DSMTPKIT_WERROR=ON $MBEDTLS_OPT >/dev/null
cmake --build "$BUILD" -j"$JOBS" >"$BUILD/build.log" 2>&1 || { tail -30 "$BUILD/build.log"; exit 1; }

echo "== memcheck: unit tests and fuzz corpus replays"
t0=$(date +%s)
LOGS=$BUILD/valgrind-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
# one line per run: name, then the command (the project has no CTest
# dashboard configuration, so `ctest -T memcheck` is not available)
: >"$LOGS/runs.txt"
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] && echo "unit.$(basename "$t" | sed 's/^test_//') $t" >>"$LOGS/runs.txt"
done
for r in "$BUILD"/fuzz/fuzz_*_replay; do
  short=$(basename "$r" | sed 's/^fuzz_//; s/_replay$//')
  echo "fuzz_replay.$short $r $ROOT/tests/fuzz/corpus/$short" >>"$LOGS/runs.txt"
done
export SMTPKIT_BIN_DIR=$BUILD/bin SMTPKIT_SOURCE_DIR=$ROOT SMTPKIT_BUILD_DIR=$BUILD
run_one() {
  name=$1; shift
  if valgrind $VG_OPTS --log-file="$LOGS/$name.vg" "$@" >"$LOGS/$name.out" 2>&1; then
    echo "   ok   $name"
  else
    echo "   FAIL $name (exit $?, see $LOGS/$name.vg)"
    grep -m1 -A12 "Invalid\|uninitialised\|definitely lost\|Mismatched\|overlap" "$LOGS/$name.vg" |
      sed 's/^/        /' || tail -5 "$LOGS/$name.out"
    return 1
  fi
}
export -f run_one
export VG_OPTS LOGS
nunit=$(wc -l <"$LOGS/runs.txt")
[ "$nunit" -gt 0 ] || { echo "valgrind.sh: no unit test or replay was built" >&2; exit 1; }
if ! xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ <"$LOGS/runs.txt"; then
  echo "valgrind.sh: memcheck found errors in unit tests or replays" >&2
  exit 1
fi
echo "   $nunit runs, $(( $(date +%s) - t0 ))s"

echo "== smtpkit-recv and smtpkit-send under memcheck, driven by interop and fault tests"
t0=$(date +%s)
VGBIN=$BUILD/valgrind-bin
LOGS=$BUILD/valgrind-logs/programs
rm -rf "$VGBIN" "$LOGS"
mkdir -p "$VGBIN" "$LOGS"
for prog in smtpkit-recv smtpkit-send; do
  cat >"$VGBIN/$prog" <<EOF
#!/bin/sh
exec valgrind $VG_OPTS --log-file=$LOGS/$prog.%p.log $BUILD/bin/$prog "\$@"
EOF
  chmod +x "$VGBIN/$prog"
done
# the helper programs other tests use, unwrapped
for f in "$BUILD"/bin/*; do
  name=$(basename "$f")
  [ -e "$VGBIN/$name" ] || ln -s "$f" "$VGBIN/$name"
done
failed=0
for t in recv_swaks recv_smtplib recv_smtp_source recv_curl recv_smuggling recv_cli \
         send_smtp_sink send_aiosmtpd fault_recv_cut fault_disk; do
  src=$(ls tests/interop/test_$t.* 2>/dev/null | head -1)
  [ -n "$src" ] || { echo "valgrind.sh: tests/interop/test_$t.* is missing" >&2; failed=1; continue; }
  case $src in *.py) run=(/usr/bin/python3 "$src") ;; *) run=(bash "$src") ;; esac
  if SMTPKIT_BIN_DIR=$VGBIN SMTPKIT_SOURCE_DIR=$ROOT SMTPKIT_BUILD_DIR=$BUILD \
     timeout 900 "${run[@]}" >"$LOGS/test_$t.out" 2>&1; then
    echo "   ok   $t"
  else
    echo "   FAIL $t (see $LOGS/test_$t.out)"
    tail -5 "$LOGS/test_$t.out" | sed 's/^/        /'
    failed=1
  fi
done
# every process's log: no error, no definite leak (also for processes a test killed)
nlogs=$(ls "$LOGS"/*.log 2>/dev/null | wc -l)
bad=$(grep -L "ERROR SUMMARY: 0 errors" "$LOGS"/*.log 2>/dev/null || true)
# a process killed by SIGKILL (a test's cleanup after a failure) has no summary
for f in $bad; do
  if grep -q "ERROR SUMMARY" "$f"; then
    echo "valgrind.sh: errors in $f:" >&2
    grep -A20 -m1 "Invalid\|uninitialised\|definitely lost\|Mismatched\|overlap" "$f" >&2 || tail -30 "$f" >&2
    failed=1
  fi
done
[ "$nlogs" -gt 0 ] || { echo "valgrind.sh: no program ran under valgrind" >&2; failed=1; }
echo "   $nlogs processes under memcheck, $(( $(date +%s) - t0 ))s"
[ $failed -eq 0 ] && echo "== valgrind: clean"
exit $failed
