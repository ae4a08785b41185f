#!/usr/bin/env bash
# The build matrix: smtpkit with each compiler and option set it promises to
# build with, each in its own build directory, each running the core tests.
# Not part of tests/run.sh (it takes several minutes); run it before a release
# or after touching the build:
#
#   tests/build_matrix.sh              # every configuration
#   tests/build_matrix.sh gcc-m32 core-only   # some of them
#   tests/build_matrix.sh --list
#
# Configurations (all with -Werror, C99 without GNU extensions):
#   gcc-static      gcc, static library
#   clang-static    clang, static library, ASan+UBSan
#   gcc-shared      gcc, shared library (soname, exported symbols checked)
#   clang-shared    clang, shared library
#   core-only       gcc, -DSMTPKIT_WITH_POSIX=OFF: the pure core and its tests
#   mbedtls         gcc, -DSMTPKIT_WITH_MBEDTLS=ON
#   gcc-m32         gcc -m32 (installs gcc-multilib when root; runs the tests
#                   under qemu-i386 where the kernel cannot run 32-bit programs)
#   consumers       tests/consumer/run.sh with gcc and with clang
#
# Environment: SMTPKIT_MATRIX_DIR (default /tmp/smtpkit-matrix: build trees and
# logs), JOBS (default 2), SMTPKIT_MATRIX_TESTS (ctest -R regex, default the
# unit tests and the fuzz corpus replays).
# Exit status: 0 when every configuration that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
OUT=${SMTPKIT_MATRIX_DIR:-/tmp/smtpkit-matrix}
JOBS=${JOBS:-2}
TESTS=${SMTPKIT_MATRIX_TESTS:-'^(unit|fuzz_replay)\.'}
ALL=(gcc-static clang-static gcc-shared clang-shared core-only mbedtls gcc-m32 consumers)

if [ "${1:-}" = --list ]; then printf '%s\n' "${ALL[@]}"; exit 0; fi
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${ALL[@]}")
mkdir -p "$OUT"

base=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_EXTENSIONS=OFF -DSMTPKIT_WERROR=ON)
# Shared builds: the unit tests call internal smtpkit__ helpers, which a shared
# library (rightly) does not export, so only the library, examples and
# benchmarks are built and the public symbol table is checked instead.
shared=(-DBUILD_SHARED_LIBS=ON -DSMTPKIT_BUILD_TESTS=OFF)

results=()
failed=0

# config NAME: sets args (cmake arguments) and kind (tests|shared|consumers).
config() {
    kind=tests
    case "$1" in
    gcc-static) args=(-DCMAKE_C_COMPILER=gcc) ;;
    clang-static) args=(-DCMAKE_C_COMPILER=clang -DSMTPKIT_SANITIZE=ON) ;;
    gcc-shared) args=(-DCMAKE_C_COMPILER=gcc "${shared[@]}"); kind=shared ;;
    clang-shared) args=(-DCMAKE_C_COMPILER=clang "${shared[@]}"); kind=shared ;;
    core-only) args=(-DCMAKE_C_COMPILER=gcc -DSMTPKIT_WITH_POSIX=OFF) ;;
    mbedtls) args=(-DCMAKE_C_COMPILER=gcc -DSMTPKIT_WITH_MBEDTLS=ON) ;;
    # _FILE_OFFSET_BITS=64: 32-bit readdir() fails with EOVERFLOW on 64-bit
    # directory offsets (seen under qemu-i386), and files may exceed 2 GiB.
    gcc-m32) args=(-DCMAKE_C_COMPILER=gcc "-DCMAKE_C_FLAGS=-m32 -D_FILE_OFFSET_BITS=64"
                   -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=i686) ;;
    consumers) args=(); kind=consumers ;;
    *) return 1 ;;
    esac
}

have_m32() {
    echo 'int main(void){return 0;}' >"$OUT/m32.c"
    gcc -m32 -o "$OUT/m32" "$OUT/m32.c" >/dev/null 2>&1
}

apt_install() {
    [ "$(id -u)" -eq 0 ] || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1
}

record() { # NAME STATUS DETAIL SECONDS
    results+=("$(printf '%-13s %-5s %5ss  %s' "$1" "$2" "$4" "$3")")
    [ "$2" = FAIL ] && failed=1
    echo "   -> $2 $3"
}

for name in "${selected[@]}"; do
    if ! config "$name"; then
        echo "unknown configuration: $name (see --list)" >&2
        exit 2
    fi
    echo "== $name"
    start=$SECONDS
    dir="$OUT/$name"
    log="$OUT/$name.log"
    : >"$log"

    if [ "$name" = gcc-m32 ]; then
        if ! have_m32; then
            apt_install gcc-multilib
            if ! have_m32; then
                record "$name" SKIP "gcc -m32 cannot link (gcc-multilib not installable)" 0
                continue
            fi
        fi
        # Some kernels (VMs without IA32 emulation) cannot run 32-bit programs:
        # the tests then run under qemu-i386, as CMake's emulator.
        if ! "$OUT/m32" 2>/dev/null; then
            command -v qemu-i386 >/dev/null || apt_install qemu-user
            if ! command -v qemu-i386 >/dev/null || ! qemu-i386 "$OUT/m32"; then
                record "$name" SKIP "32-bit programs do not run here (no IA32 kernel support, no qemu-i386)" 0
                continue
            fi
            args+=(-DCMAKE_CROSSCOMPILING_EMULATOR="$(command -v qemu-i386)")
        fi
    fi

    if [ "$kind" = consumers ]; then
        ok=1
        for cc in gcc clang; do
            if ! CC=$cc SMTPKIT_SOURCE_DIR="$SRC" bash tests/consumer/run.sh >>"$log" 2>&1; then
                ok=0
                break
            fi
        done
        if [ $ok = 1 ]; then
            record "$name" ok "gcc and clang consumers" $((SECONDS - start))
        else
            record "$name" FAIL "consumer with $cc, see $log" $((SECONDS - start))
        fi
        continue
    fi

    rm -rf "$dir"
    if ! cmake -S "$SRC" -B "$dir" "${base[@]}" "${args[@]}" >>"$log" 2>&1; then
        record "$name" FAIL "configure, see $log" $((SECONDS - start))
        continue
    fi
    if ! cmake --build "$dir" -j"$JOBS" >>"$log" 2>&1; then
        record "$name" FAIL "build: $(grep -m1 -E 'error|Error' "$log")" $((SECONDS - start))
        continue
    fi

    if [ "$kind" = shared ]; then
        lib=$(find "$dir" -maxdepth 1 -name 'libsmtpkit.so.*.*.*' -print -quit)
        stray=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBV]$/ {print $3}' |
            grep -v '^smtpkit_[a-z0-9]' || true)
        soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
        if [ -z "$lib" ] || [ -n "$stray" ]; then
            record "$name" FAIL "exports non-API symbols: $(echo $stray)" $((SECONDS - start))
        else
            record "$name" ok "$soname, library+examples built, only smtpkit_* exported" \
                $((SECONDS - start))
        fi
        continue
    fi

    (cd "$dir" && ctest --output-on-failure -j"$JOBS" -R "$TESTS") >>"$log" 2>&1
    rc=$?
    summary=$(grep -E 'tests passed|No tests were found' "$log" | tail -1)
    if [ $rc -eq 0 ] && grep -q 'tests passed' <<<"$summary"; then
        record "$name" ok "$summary" $((SECONDS - start))
    else
        record "$name" FAIL "${summary:-ctest failed}, see $log" $((SECONDS - start))
    fi
done

echo
echo "== build matrix ($SRC)"
printf '%s\n' "${results[@]}"
exit $failed
