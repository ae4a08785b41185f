#!/bin/sh
# Every benchmark in one go (about 10 minutes; --quick: about 3), for
# docs/performance.md. Not part of the test suite.
#
#   tests/bench/bench_all.sh [--build DIR] [--quick] [--pin split|same|none]
#
# DIR is a Release build with the benchmarks and examples (default
# /tmp/build-perf):
#   cmake -S . -B /tmp/build-perf -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/build-perf -j2
# Needs Postfix's smtp-source and smtp-sink, curl, taskset, and
# /usr/bin/python3 with python3-aiosmtpd. Output goes to standard output.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=/tmp/build-perf
quick=
pin=split
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --quick) quick=--quick; shift ;;
    --pin) pin=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--quick] [--pin split|same|none]" >&2; exit 64 ;;
    esac
done
py=/usr/bin/python3
start=$(date +%s)

echo "== machine"
echo "$(lscpu | sed -n 's/^Model name: *//p'), nproc $(nproc), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checkout at $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo "?") (the build may be older), build $build"

echo
echo "== core: bench_core (parsers and codecs against memchr)"
if [ -n "$quick" ]; then "$build/bench/bench_core" 16 5; else "$build/bench/bench_core" 64 9; fi
echo
echo "== core: bench_message (message builder)"
if [ -n "$quick" ]; then "$build/bench/bench_message" 20; else "$build/bench/bench_message"; fi
echo
echo "== core: bench_session (sessions in memory, allocations after set-up)"
if [ -n "$quick" ]; then "$build/bench/bench_session" 5000; else "$build/bench/bench_session"; fi

echo
echo "== memory per idle session"
$py "$here/bench_memory.py" --build "$build" $quick --pin "$pin"
echo
echo "== receiving"
$py "$here/bench_recv.py" --build "$build" $quick --pin "$pin"
echo
echo "== sending"
$py "$here/bench_send.py" --build "$build" $quick --pin "$pin"
echo
echo "== done in $(( $(date +%s) - start )) s"
