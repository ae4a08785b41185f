#!/usr/bin/env bash
# The whole smtpkit test suite, as a new user (and CI) runs it:
#   tests/run.sh
# 1. installs the Debian packages the tests need (when run as root or with sudo),
# 2. builds with gcc, warnings as errors, ASan+UBSan, and runs every CTest test
#    (unit, interop against real peers, fuzz corpus replay),
# 3. runs the static analysers over lib/ (tests/check_static.sh: cppcheck and
#    clang-tidy bugprone-*, cert-*, clang-analyzer-*; about a minute),
# 4. builds the libFuzzer targets with clang (also -Werror) and runs each briefly.
# Not in here (slower): tests/valgrind.sh (memcheck), tests/bench/soak.sh.
# Environment: SMTPKIT_FUZZ_SECONDS (default 20), SMTPKIT_SKIP_FUZZ=1 to skip step 4,
# JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
FUZZ_SECONDS=${SMTPKIT_FUZZ_SECONDS:-20}

PACKAGES=(cmake make gcc clang libclang-rt-14-dev postfix swaks curl msmtp python3 python3-aiosmtpd
          openssl libmbedtls-dev valgrind procps iproute2 doxygen pkg-config binutils
          cppcheck clang-tidy)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "== installing: ${missing[*]}"
    # smtp-sink/smtp-source come with postfix; never configure or start its daemon.
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "== missing packages (tests needing them will fail): ${missing[*]}" >&2
  fi
fi

echo "== gcc build: -Werror, ASan+UBSan"
# The TLS adapter and its tests (test_tls*) when mbedTLS is installed.
MBEDTLS_OPT=""
[ -f /usr/include/mbedtls/ssl.h ] && MBEDTLS_OPT="-DSMTPKIT_WITH_MBEDTLS=ON"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc \
  -DSMTPKIT_WERROR=ON -DSMTPKIT_SANITIZE=ON $MBEDTLS_OPT >/dev/null
cmake --build build-test -j"$JOBS"
(cd build-test && ctest --output-on-failure -j"$JOBS")

echo "== static analysis: cppcheck, clang-tidy"
JOBS=$JOBS bash tests/check_static.sh

if [ "${SMTPKIT_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== clang build: -Werror, libFuzzer targets, ${FUZZ_SECONDS}s each"
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DSMTPKIT_WERROR=ON -DSMTPKIT_SANITIZE=ON -DSMTPKIT_FUZZ=ON -DSMTPKIT_BUILD_TESTS=OFF \
    -DSMTPKIT_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
  cmake --build build-fuzz -j"$JOBS"
  (cd build-fuzz && ctest --output-on-failure -j"$JOBS" -R '^fuzz_run\.')
fi
echo "== all tests passed"
