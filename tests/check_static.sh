#!/usr/bin/env bash
# Static analysis of the library (lib/): cppcheck and clang-tidy.
#
#   tests/check_static.sh            # from anywhere; JOBS=N to set parallelism
#
# clang-tidy runs the checks bugprone-*, cert-* and clang-analyzer-*, except
# bugprone-easily-swappable-parameters: the (pointer, length) and (buffer,
# capacity) pairs it flags are the library's API style everywhere (39 hits,
# none a bug). cppcheck runs with --enable=warning,portability,performance.
#
# Every finding must either be fixed or be listed, under a comment saying
# why it is not a bug, in tests/static_baseline.txt. An entry is the line
# "file|check|flagged source line" (the text of the line, not its number, so
# edits elsewhere do not disturb it); when that line changes, the finding
# shows up again and must be looked at again. Any finding not in the baseline fails
# the script (exit 1); baseline entries that no longer match are listed so
# they can be removed. A missing tool fails too (exit 2): nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
BASELINE=$ROOT/tests/static_baseline.txt
CHECKS='-*,bugprone-*,cert-*,clang-analyzer-*,-bugprone-easily-swappable-parameters'

for tool in cppcheck clang-tidy cmake; do
  if ! command -v "$tool" >/dev/null; then
    echo "check_static: $tool is not installed (apt-get install cppcheck clang-tidy)" >&2
    exit 2
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpkit-static.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# A compilation database for clang-tidy: the library with every adapter
# (TLS when mbedTLS is installed), configured only, not built.
MBEDTLS_OPT=""
[ -f /usr/include/mbedtls/ssl.h ] && MBEDTLS_OPT="-DSMTPKIT_WITH_MBEDTLS=ON"
cmake -S "$ROOT" -B "$work/build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_C_COMPILER=clang \
  -DSMTPKIT_BUILD_TESTS=OFF -DSMTPKIT_BUILD_EXAMPLES=OFF $MBEDTLS_OPT >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; exit 2; }

sources=$(ls ${STATIC_ONLY:-lib/core/*.c lib/adapters/*/*.c})
t0=$(date +%s)

echo "== cppcheck ($(cppcheck --version))"
# shellcheck disable=SC2086
cppcheck --enable=warning,portability,performance --std=c99 --inline-suppr --quiet \
  -j "$JOBS" -I include -I lib/core -D__linux__ -DSMTPKIT_HAVE_MBEDTLS \
  --template='{file}:{line}:{column}: warning: {message} [cppcheck-{id}]' \
  $sources 2>"$work/cppcheck.txt" || true

echo "== clang-tidy ($(clang-tidy --version | grep -o 'version [0-9.]*'), $CHECKS)"
# shellcheck disable=SC2086
printf '%s\n' $sources | xargs -P "$JOBS" -n 2 clang-tidy -p "$work/build" --quiet \
  -checks="$CHECKS" >"$work/tidy.txt" 2>"$work/tidy.err" || true
if grep -q "error:" "$work/tidy.txt" "$work/tidy.err"; then
  echo "check_static: clang-tidy could not analyse some files:" >&2
  grep -h "error:" "$work/tidy.txt" "$work/tidy.err" | sort -u >&2
  exit 2
fi

# Findings as "file|check|flagged line text" (one per distinct finding).
normalize() {
  cat "$@" | { grep -h ': warning: ' || true; } | sed "s|^$ROOT/||" | while IFS= read -r w; do
    f=${w%%:*}; rest=${w#*:}; l=${rest%%:*}
    chk=$(printf '%s' "$w" | grep -o '\[[^]]*\]$' | tr -d '[]')
    txt=$(sed -n "${l}p" "$f" 2>/dev/null | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    printf '%s|%s|%s\t%s\n' "$f" "$chk" "$txt" "$w"
  done | sort -u -t $'\t' -k1,1
}
normalize "$work/cppcheck.txt" "$work/tidy.txt" >"$work/found.txt"
sed -e '/^#/d' -e '/^[[:space:]]*$/d' "$BASELINE" | sort -u >"$work/known.txt"

new=0
while IFS=$'\t' read -r key msg; do
  if ! grep -qxF "$key" "$work/known.txt"; then
    [ $new -eq 0 ] && echo "== new findings (fix them, or justify each in tests/static_baseline.txt):"
    echo "  $msg"
    echo "      baseline key: $key"
    new=$((new + 1))
  fi
done <"$work/found.txt"

cut -f1 "$work/found.txt" >"$work/found_keys.txt"
stale=$(grep -vxF -f "$work/found_keys.txt" "$work/known.txt" || true)
if [ -n "$stale" ]; then
  echo "== baseline entries that no longer match a finding (remove them):"
  printf '  %s\n' "$stale"
fi

total=$(wc -l <"$work/found.txt")
echo "== $total findings, $((total - new)) justified in the baseline, $new new; $(( $(date +%s) - t0 ))s"
[ $new -eq 0 ]
