#!/bin/sh
# The abi.slot_headers_digest test: fails when the plugin ABI headers differ
# from the digest recorded for the current RAYK_PLUGIN_ABI_VERSION, which is
# how a slot interface change without a version bump is caught (a plugin built
# against the old headers would pass the loader's version check and call the
# wrong vtable slots).
#
#   tests/abi/check_abi_digest.sh <source tree>
set -eu
root=${1:?usage: check_abi_digest.sh <source tree>}
file=$root/tests/abi/slot_headers.sha256
current=$("$root/scripts/abi-digest.sh" "$root")
version=${current% *}
digest=${current#* }
recorded=$(sed -n "s/^$version \([0-9a-f]*\)$/\1/p" "$file" 2>/dev/null || true)
if [ "$recorded" = "$digest" ]; then
  echo "plugin ABI headers match the digest of RAYK_PLUGIN_ABI_VERSION $version"
  exit 0
fi
if [ -z "$recorded" ]; then
  echo "RAYK_PLUGIN_ABI_VERSION $version has no digest in $file:" \
       "run scripts/update-abi-digest.sh and commit the file" >&2
else
  echo "slot headers changed: bump RAYK_PLUGIN_ABI_VERSION in plugin.h and run" \
       "scripts/update-abi-digest.sh (recorded for version $version: $recorded, now: $digest)" >&2
fi
exit 1
