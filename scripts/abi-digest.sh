#!/bin/sh
# Prints "<RAYK_PLUGIN_ABI_VERSION> <sha256>" for the plugin ABI of the source
# tree at $1 (default: this script's tree): the slot headers
# kernel/include/rayk/plugin/*.h and every rayk/ header they include, directly
# or not, since their types (ids, Status, ResourceSet, ...) cross the ABI too.
# Only tokens count: comments and blank space are stripped first, so that
# documentation edits and reformatting do not change the digest. Used by
# scripts/update-abi-digest.sh and tests/abi/check_abi_digest.sh.
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
include=$root/kernel/include
plugin_h=$include/rayk/plugin/plugin.h
[ -f "$plugin_h" ] || { echo "abi-digest: no $plugin_h; pass the source tree" >&2; exit 2; }

version=$(sed -n 's/^#define RAYK_PLUGIN_ABI_VERSION \([0-9][0-9]*\)u\{0,1\}.*/\1/p' "$plugin_h")
[ -n "$version" ] || { echo "abi-digest: no '#define RAYK_PLUGIN_ABI_VERSION <n>' in $plugin_h" >&2; exit 2; }

# The closure of the slot headers under #include "rayk/...", as paths
# relative to kernel/include, sorted so that the digest does not depend on
# the order they were found in.
headers=$(cd "$include" && ls rayk/plugin/*.h)
while :; do
  next=$( (echo "$headers"; cd "$include" && sed -n 's/^#include "\(rayk\/[^"]*\)".*/\1/p' $headers) | sort -u)
  [ "$next" = "$headers" ] && break
  headers=$next
done
for header in $headers; do
  [ -f "$include/$header" ] || { echo "abi-digest: $header is included but missing" >&2; exit 2; }
done

# Strings and character literals are kept whole so that "//" inside one is
# not taken for a comment; comments become a space. Then blank space goes
# except between two words (clang-format may rewrap and respace a header),
# and the #include lines are sorted.
normalize='
  s{("(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)|//[^\n]*|/\*.*?\*/}{defined $1 ? $1 : " "}gse;
  my @includes = sort map { s/\s+//gr } /^[ \t]*#[ \t]*include[^\n]*/mg;
  s/^[ \t]*#[ \t]*include[^\n]*//mg;
  s/\s+/ /g;
  s/ (?=\W)|(?<=\W) //g;
  print join("\n", @includes), "\n", $_, "\n";'
digest=$(cd "$include" && for header in $headers; do
  echo "== $header"
  perl -0777 -ne "$normalize" "$header"
done | sha256sum | cut -d' ' -f1)
echo "$version $digest"
