#!/bin/sh
# The abi.digest_catches_changes test: runs the ABI digest check and update
# scripts on a scratch copy of the source tree and asserts what they let
# through (comment and formatting edits) and what they stop (a new virtual in
# a slot, a changed type in a header a slot includes, a bump without a
# recorded digest, re-recording a version without a bump).
#
#   tests/abi/abi_digest_selftest.sh <source tree>
set -eu
src=${1:?usage: abi_digest_selftest.sh <source tree>}
tree=$(mktemp -d "${TMPDIR:-/tmp}/rayk-abi-selftest.XXXXXX")
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/kernel" "$tree/tests/abi"
cp -R "$src/kernel/include" "$tree/kernel/"
cp -R "$src/scripts" "$tree/"
cp "$src/tests/abi/slot_headers.sha256" "$src/tests/abi/check_abi_digest.sh" "$tree/tests/abi/"
store=$tree/kernel/include/rayk/plugin/object_store.h
plugin=$tree/kernel/include/rayk/plugin/plugin.h
failures=0

# expect <pass|fail> <what> <command...>: runs the command, checks its exit
# status, and for "fail" that its output says what to do ($expect_text).
expect() {
  want=$1 what=$2
  shift 2
  if output=$("$@" 2>&1); then got=pass; else got=fail; fi
  if [ "$got" != "$want" ]; then
    echo "FAILED: $what: expected $want, got $got: $output"
    failures=$((failures + 1))
  elif [ "$want" = fail ] && ! printf '%s' "$output" | grep -qF "$expect_text"; then
    echo "FAILED: $what: the message lacks '$expect_text': $output"
    failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
}
check() { "$tree/tests/abi/check_abi_digest.sh" "$tree"; }
update() { "$tree/scripts/update-abi-digest.sh" "$@" "$tree"; }
snapshot() { cp -R "$tree/kernel/include" "$tree/include.saved"; }
restore() { rm -rf "$tree/kernel/include"; mv "$tree/include.saved" "$tree/kernel/include"; }

expect_text=""
expect pass "the recorded digest matches the tree" check

snapshot
printf '\n// A note added to the documentation.\n/* and a block comment */\n' >> "$store"
sed -i 's/^  virtual Status Seal(/  virtual   Status\n      Seal(/' "$store"
expect pass "comments and reformatting do not count" check
restore

expect_text="slot headers changed: bump RAYK_PLUGIN_ABI_VERSION in plugin.h and run scripts/update-abi-digest.sh"
snapshot
sed -i 's/^  virtual Status Seal(/  virtual void Flush() = 0;\n  virtual Status Seal(/' "$store"
expect fail "a virtual added to a slot without a bump" check
expect_text="bump it in kernel/include/rayk/plugin/plugin.h"
expect fail "update refuses to re-record a version" update
restore

expect_text="slot headers changed"
snapshot
sed -i "s/std::array<uint8_t, kSize> bytes_;/std::array<uint16_t, kSize> bytes_;/" "$tree/kernel/include/rayk/ids.h"
expect fail "a change in a header a slot includes" check
restore

snapshot
sed -i 's/^#define RAYK_PLUGIN_ABI_VERSION \([0-9]*\)u/#define RAYK_PLUGIN_ABI_VERSION 99\1u/' "$plugin"
expect_text="has no digest"
expect fail "a bumped version without a recorded digest" check
expect pass "update records the bumped version" update
expect pass "the check passes after the update" check
restore

[ "$failures" = 0 ] || exit 1
