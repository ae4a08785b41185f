#!/usr/bin/env bash
# The manual pages docs/man/smtpkit-send.1 and docs/man/smtpkit-recv.1 match
# the tools:
#   - every option the tool's --help names is described in the page's OPTIONS
#     (as a .TP tag), and every option described there is in --help;
#   - every option string in the tool's source is described (no hidden option);
#   - every exit status --help or the source's header comment names is listed
#     under EXIT STATUS;
#   - groff formats the page without a warning, and the SYNOPSIS names only
#     options that exist.
set -uo pipefail
BIN=${SMTPKIT_BIN_DIR:?}
SRC=${SMTPKIT_SOURCE_DIR:?}
pass=0
fails=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }

# Options in a text: --long-name and single-letter -x, one per line, sorted.
opts() { grep -oE '(^|[^A-Za-z0-9-])(--[a-z0-9][a-z0-9-]*|-[A-Za-z])\b' | sed -E 's/^[^-]*//' | sort -u; }
# The roff source as plain text: \- is -, fonts dropped.
roff_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g' "$1"; }
# The tags of .TP entries in the OPTIONS section (the line after each .TP).
man_option_tags() {
  roff_text "$1" | awk '/^\.SH /{sec=$0} sec ~ /OPTIONS/ && prev == ".TP" {print} {prev=$0}'
}
# Lines of a section.
man_section() { roff_text "$1" | awk -v s="$2" '/^\.SH /{on = ($0 ~ s)} on'; }

for tool in smtpkit-send smtpkit-recv; do
  page="$SRC/docs/man/$tool.1"
  if [ ! -f "$page" ]; then bad "$tool: no manual page $page"; continue; fi
  if [ ! -x "$BIN/$tool" ]; then bad "$tool: not built in $BIN"; continue; fi
  help=$("$BIN/$tool" --help 2>&1)
  help_opts=$(opts <<<"$help")
  man_opts=$(man_option_tags "$page" | opts)
  src_opts=$(cat "$SRC"/examples/"$tool"/*.c | grep -oE '"(--[a-z0-9][a-z0-9-]*|-[A-Za-z])"' | tr -d '"' | sort -u)

  missing_in_man=$(comm -23 <(echo "$help_opts") <(echo "$man_opts"))
  missing_in_help=$(comm -13 <(echo "$help_opts") <(echo "$man_opts"))
  # -h and --verbose style aliases may be in the page only; everything else must match
  missing_in_help=$(grep -vxE -- '-h|--verbose' <<<"$missing_in_help")
  if [ -z "$missing_in_man" ] && [ -z "$missing_in_help" ]; then
    ok "$tool: the $(wc -l <<<"$help_opts") options of --help are the options of $tool.1"
  else
    bad "$tool: in --help but not described in $tool.1: [$(echo $missing_in_man)]; in $tool.1 but not in --help: [$(echo $missing_in_help)]"
  fi

  hidden=$(comm -23 <(echo "$src_opts") <(echo "$man_opts"))
  if [ -z "$hidden" ]; then ok "$tool: every option in the source is in $tool.1"
  else bad "$tool: options in the source but not in $tool.1: $(echo $hidden)"; fi

  synopsis_opts=$(man_section "$page" SYNOPSIS | opts)
  unknown=$(comm -23 <(echo "$synopsis_opts") <(echo "$man_opts"))
  if [ -z "$unknown" ]; then ok "$tool: the SYNOPSIS names only described options"
  else bad "$tool: SYNOPSIS names undescribed options: $(echo $unknown)"; fi

  # Exit codes: from --help ("Exit status: 0 ..., 75 ...") and the source's comments.
  codes=$( { grep -iA4 'exit status' <<<"$help"; grep -ihA2 'exit status' "$SRC"/examples/"$tool"/main.c; } |
           grep -oE '\b(0|6[4-9]|7[0-8])\b' | sort -un)
  listed=$(man_section "$page" 'EXIT STATUS' | awk 'prev == ".TP" {print} {prev=$0}' | sed -E 's/^\.B //' | sort -un)
  missing=$(comm -23 <(echo "$codes") <(echo "$listed"))
  if [ -n "$codes" ] && [ -z "$missing" ]; then ok "$tool: exit statuses $(echo $codes) are listed in $tool.1"
  else bad "$tool: exit statuses [$(echo $codes)], listed [$(echo $listed)], missing [$(echo $missing)]"; fi

  if command -v groff >/dev/null; then
    warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    if [ -z "$warn" ]; then ok "$tool.1: groff formats it without a warning"
    else bad "$tool.1: groff: $warn"; fi
  fi
done

echo "$pass passed, $fails failed"
[ $fails -eq 0 ]
