#!/bin/sh
# A project that uses an installed smtpkit through pkg-config and nothing else:
#   PKG_CONFIG_PATH=/prefix/lib/pkgconfig pkgconfig/build.sh OUTPUT
set -eu
out=${1:-consumer}
main="$(dirname "$0")/../main.c"
# shellcheck disable=SC2046 # pkg-config output is meant to be word-split
${CC:-cc} -std=c99 -Wall -Wextra -pedantic -Werror -o "$out" "$main" $(pkg-config --cflags --libs smtpkit)
