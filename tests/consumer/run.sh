#!/usr/bin/env bash
# consumer.packages: smtpkit as its users meet it. From a temporary directory,
# with a copy of the source tree, this
#   1. installs a static smtpkit (with the mbedTLS adapter when mbedTLS is
#      there) and a shared one, each into its own prefix, and checks what was
#      installed (soname chain, exported symbols, no sanitizer flags);
#   2. moves the static prefix elsewhere (the package must be relocatable), then
#      builds and runs tests/consumer/find_package (find_package(smtpkit X.Y
#      CONFIG)) and tests/consumer/pkgconfig (cc $(pkg-config --cflags --libs
#      smtpkit)) against it, and checks that an incompatible version is refused;
#   3. does the same against the shared prefix;
#   4. builds and runs tests/consumer/fetchcontent with FetchContent pointed at
#      the copy, and again with add_subdirectory and POSIX turned off by the
#      parent; the project itself checks that smtpkit brings only its library.
# It writes nothing into the source tree, and checks that the copy it built
# from is left untouched.
#
# Environment: SMTPKIT_SOURCE_DIR (default: this checkout), CC (default cc),
# SMTPKIT_CONSUMER_MBEDTLS=ON|OFF (default: ON when <mbedtls/ssl.h> is found),
# SMTPKIT_CONSUMER_JOBS (default 2), SMTPKIT_KEEP_TMP=1 to keep the directory.
set -euo pipefail

SRC=${SMTPKIT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CC=${CC:-cc}
JOBS=${SMTPKIT_CONSUMER_JOBS:-2}
export CC

fail() { echo "consumer.packages: FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }
for tool in cmake pkg-config nm readelf "$CC"; do
    command -v "$tool" >/dev/null || fail "$tool not found (tests/run.sh installs it)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtpkit-consumer.XXXXXX")
if [ "${SMTPKIT_KEEP_TMP:-0}" = 1 ]; then
    echo "keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi
log="$tmp/log"
# Runs a command quietly; on failure shows its output.
run() {
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        fail "command failed: $*"
    fi
}

# ---- the source: a copy of what git tracks plus new files (or everything but
# build directories), so edits made while this runs cannot disturb it.
step "copying $SRC"
mkdir "$tmp/src"
if git -C "$SRC" rev-parse --show-toplevel >/dev/null 2>&1 &&
   [ "$(cd "$SRC" && git rev-parse --show-toplevel)" = "$(cd "$SRC" && pwd -P)" ]; then
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -C "$tmp/src" -xf -
else
    tar -C "$SRC" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$tmp/src" -xf -
fi
S="$tmp/src"
(cd "$S" && find . | LC_ALL=C sort) >"$tmp/files.before"
touch "$tmp/stamp"

ver=$(sed -n 's/^#define SMTPKIT_VERSION_STRING "\(.*\)".*/\1/p' "$S/include/smtpkit/version.h")
major=${ver%%.*}
minor=${ver#*.}; minor=${minor%%.*}
[ -n "$ver" ] || fail "no version in version.h"
if [ "$major" = 0 ]; then soversion="$major.$minor"; else soversion=$major; fi
want="$major.$minor"
# Incompatible: the next major release (and, while 0.x, the next minor one).
if [ "$major" = 0 ]; then bad="0.$((minor + 1))"; else bad="$((major + 1)).0"; fi

mbedtls=${SMTPKIT_CONSUMER_MBEDTLS:-}
if [ -z "$mbedtls" ]; then
    if echo '#include <mbedtls/ssl.h>' | "$CC" -E -x c - >/dev/null 2>&1; then
        mbedtls=ON
    else
        mbedtls=OFF
    fi
fi

common=(-DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=)
lib_only=(-DSMTPKIT_BUILD_TESTS=OFF -DSMTPKIT_BUILD_EXAMPLES=OFF -DSMTPKIT_BUILD_BENCH=OFF)

# ---- 1. install
step "static install (mbedTLS $mbedtls)"
run cmake -S "$S" -B "$tmp/b-static" "${common[@]}" "${lib_only[@]}" -DSMTPKIT_WITH_MBEDTLS="$mbedtls"
run cmake --build "$tmp/b-static" -j"$JOBS"
run cmake --install "$tmp/b-static" --prefix "$tmp/static"

step "shared install (mbedTLS $mbedtls)"
run cmake -S "$S" -B "$tmp/b-shared" "${common[@]}" "${lib_only[@]}" -DBUILD_SHARED_LIBS=ON \
    -DSMTPKIT_WITH_MBEDTLS="$mbedtls"
run cmake --build "$tmp/b-shared" -j"$JOBS"
run cmake --install "$tmp/b-shared" --prefix "$tmp/shared"

libdir_of() { dirname "$(find "$1" -name smtpkit.pc -print -quit)"; }
for p in static shared; do
    pc=$(find "$tmp/$p" -name smtpkit.pc -print -quit)
    [ -n "$pc" ] || fail "$p: no smtpkit.pc installed"
    [ -f "$tmp/$p/include/smtpkit/smtpkit.h" ] || fail "$p: headers not installed"
    cfg=$(find "$tmp/$p" -name smtpkitConfig.cmake -print -quit)
    [ -n "$cfg" ] || fail "$p: no smtpkitConfig.cmake installed"
    [ -f "$(dirname "$cfg")/smtpkitConfigVersion.cmake" ] || fail "$p: no version file"
    # Adapter headers only when the adapter was built.
    tls_installed=OFF
    [ -f "$tmp/$p/include/smtpkit/tls.h" ] && tls_installed=ON
    if [ -f "$S/include/smtpkit/tls.h" ] && [ "$tls_installed" != "$mbedtls" ]; then
        fail "$p: tls.h installed=$tls_installed but SMTPKIT_WITH_MBEDTLS=$mbedtls"
    fi
    if grep -rq -e '-fsanitize' -e '-Werror' -e '-Wall' "$(dirname "$cfg")" "$pc"; then
        fail "$p: build flags leak into the installed package"
    fi
done
sl=$(dirname "$(libdir_of "$tmp/static")")
[ -f "$sl/libsmtpkit.a" ] || fail "static: no libsmtpkit.a in $sl"
dl=$(dirname "$(libdir_of "$tmp/shared")")
[ -f "$dl/libsmtpkit.so.$ver" ] || fail "shared: no libsmtpkit.so.$ver"
[ "$(readlink "$dl/libsmtpkit.so")" = "libsmtpkit.so.$soversion" ] || fail "shared: libsmtpkit.so -> $(readlink "$dl/libsmtpkit.so")"
[ "$(readlink "$dl/libsmtpkit.so.$soversion")" = "libsmtpkit.so.$ver" ] || fail "shared: bad soname link"
soname=$(readelf -d "$dl/libsmtpkit.so.$ver" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsmtpkit.so.$soversion" ] || fail "shared: SONAME is '$soname', expected libsmtpkit.so.$soversion"
# Only the public API is exported: smtpkit_* names, never smtpkit__ internals.
exported=$(nm -D --defined-only "$dl/libsmtpkit.so.$ver" | awk '$2 ~ /^[TDRBV]$/ {print $3}')
[ -n "$exported" ] || fail "shared: exports nothing"
stray=$(echo "$exported" | grep -v '^smtpkit_[a-z0-9]' || true)
[ -z "$stray" ] || fail "shared: exports non-API symbols: $(echo $stray)"
grep -qx smtpkit_version <<<"$exported" || fail "shared: smtpkit_version not exported"
echo "   shared: SONAME $soname, $(echo "$exported" | wc -l) symbols, all smtpkit_*"

# ---- 2./3. find_package and pkg-config against each prefix
mv "$tmp/static" "$tmp/static-moved"   # the package must not depend on where it was installed
for p in static-moved shared; do
    prefix="$tmp/$p"
    pcdir=$(libdir_of "$prefix")
    step "find_package(smtpkit $want CONFIG) against $p"
    run cmake -S "$S/tests/consumer/find_package" -B "$tmp/fp-$p" "${common[@]}" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_SMTPKIT_VERSION="$want"
    run cmake --build "$tmp/fp-$p"
    run "$tmp/fp-$p/consumer"
    cat "$log"
    if [ "$p" = shared ]; then
        ldd "$tmp/fp-$p/consumer" >"$log"
        grep -q "libsmtpkit.so.$soversion => $prefix" "$log" ||
            fail "find_package consumer is not linked to the shared library in $prefix"
    fi
    step "find_package(smtpkit $bad CONFIG) against $p must fail"
    if cmake -S "$S/tests/consumer/find_package" -B "$tmp/fp-bad-$p" "${common[@]}" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCONSUMER_SMTPKIT_VERSION="$bad" >"$log" 2>&1; then
        fail "an incompatible version $bad was accepted"
    fi
    grep -q "compatible with requested version" "$log" || { cat "$log"; fail "refused for another reason"; }

    step "pkg-config against $p"
    export PKG_CONFIG_PATH="$pcdir"
    [ "$(pkg-config --modversion smtpkit)" = "$ver" ] || fail "pkg-config --modversion: $(pkg-config --modversion smtpkit)"
    inc=$(pkg-config --cflags-only-I smtpkit | sed 's/^ *-I//; s/ *$//')
    [ "$(cd "$inc" && pwd -P)" = "$(cd "$prefix/include" && pwd -P)" ] ||
        fail "pkg-config --cflags does not point at $prefix: $(pkg-config --cflags smtpkit)"
    run pkg-config --libs --static smtpkit
    run "$S/tests/consumer/pkgconfig/build.sh" "$tmp/pc-$p"
    LD_LIBRARY_PATH="$pcdir/.." run "$tmp/pc-$p"
    cat "$log"
    if command -v c++ >/dev/null; then
        # The headers also compile as C++ (extern "C", no C-only syntax).
        # shellcheck disable=SC2046
        run c++ -fsyntax-only -x c++ "$S/tests/consumer/main.c" $(pkg-config --cflags smtpkit)
    fi
    unset PKG_CONFIG_PATH
done

# ---- 4. FetchContent and add_subdirectory
step "FetchContent_MakeAvailable(smtpkit)"
run cmake -S "$S/tests/consumer/fetchcontent" -B "$tmp/fc" "${common[@]}" \
    -DFETCHCONTENT_SOURCE_DIR_SMTPKIT="$S"
run cmake --build "$tmp/fc" -j"$JOBS"
(cd "$tmp/fc" && run ctest -N)
grep -q "Total Tests: 1$" "$log" || { cat "$log"; fail "smtpkit added tests to the parent's ctest"; }
(cd "$tmp/fc" && run ctest --output-on-failure)
run cmake --install "$tmp/fc" --prefix "$tmp/fc-install"
installed=$(cd "$tmp/fc-install" && find . -type f | LC_ALL=C sort | tr '\n' ' ')
[ "$installed" = "./bin/consumer " ] || fail "smtpkit installed files into the parent's install: $installed"
run "$tmp/fc/consumer"
cat "$log"

step "add_subdirectory(smtpkit) with SMTPKIT_WITH_POSIX=OFF from the parent"
run cmake -S "$S/tests/consumer/fetchcontent" -B "$tmp/as" "${common[@]}" \
    -DCONSUMER_ADD_SUBDIRECTORY=ON -DCONSUMER_SMTPKIT_DIR="$S"
run cmake --build "$tmp/as" -j"$JOBS"
run "$tmp/as/consumer"
cat "$log"

# ---- nothing was written into the source tree
(cd "$S" && find . | LC_ALL=C sort) >"$tmp/files.after"
if ! diff -u "$tmp/files.before" "$tmp/files.after" >"$log"; then
    cat "$log" >&2
    fail "files were created or removed in the source tree"
fi
changed=$(cd "$S" && find . -newer "$tmp/stamp" | head)
[ -z "$changed" ] || fail "files in the source tree were modified: $changed"
echo "consumer.packages: all consumers built and ran"
