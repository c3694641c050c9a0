#!/bin/sh
# Records the digest of the plugin ABI headers (scripts/abi-digest.sh) for
# the current RAYK_PLUGIN_ABI_VERSION in tests/abi/slot_headers.sha256, which
# the abi test checks. Run it after bumping the version in
# kernel/include/rayk/plugin/plugin.h. It refuses to change the digest of a
# version already recorded: plugins built against that version exist, and
# they would pass the loader's version check with another vtable.
#
#   scripts/update-abi-digest.sh [--same-abi] [source tree]
#
# --same-abi re-records the current version's digest. Only for a change that
# keeps every slot's layout and vtable (a new non-virtual inline helper, a
# renamed parameter); say why in the commit message.
set -eu
same_abi=0
if [ "${1:-}" = "--same-abi" ]; then same_abi=1; shift; fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
file=$root/tests/abi/slot_headers.sha256
current=$("$root/scripts/abi-digest.sh" "$root")
version=${current% *}
digest=${current#* }
recorded=$(sed -n "s/^$version \([0-9a-f]*\)$/\1/p" "$file" 2>/dev/null || true)

if [ "$recorded" = "$digest" ]; then
  echo "ABI version $version: digest up to date"
  exit 0
fi
if [ -n "$recorded" ] && [ "$same_abi" = 0 ]; then
  echo "slot headers changed but RAYK_PLUGIN_ABI_VERSION is still $version: bump it in" \
       "kernel/include/rayk/plugin/plugin.h, then run this again" >&2
  exit 1
fi
if [ ! -f "$file" ]; then
  {
    echo "# RAYK_PLUGIN_ABI_VERSION and the sha256 of the plugin ABI headers"
    echo "# (kernel/include/rayk/plugin/*.h and the rayk/ headers they include,"
    echo "# tokens only), one line per version. Written by scripts/update-abi-digest.sh;"
    echo "# checked by the abi.slot_headers_digest test."
  } > "$file"
fi
tmp=$file.tmp.$$
grep -v "^$version " "$file" > "$tmp" || true
echo "$version $digest" >> "$tmp"
mv "$tmp" "$file"
echo "ABI version $version: recorded $digest in $file"
