#!/usr/bin/env bash
# Checks that every tracked .h/.cc file is formatted as .clang-format says
# (Google style, 100 columns), with Debian's clang-format. Lists each file
# that is not and exits 1. With --fix, reformats those files in place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=false
case "${1:-}" in
  "") ;;
  --fix) fix=true ;;
  *) echo "usage: scripts/check-format.sh [--fix]" >&2; exit 2 ;;
esac
if ! command -v clang-format >/dev/null; then
  echo "check-format: clang-format is not installed; run scripts/install-deps.sh" >&2
  exit 2
fi
mapfile -t files < <(git ls-files -- '*.h' '*.cc')
if $fix; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 20 -P "$(nproc)" clang-format -i --style=file
  exit 0
fi
# --dry-run prints a "code should be clang-formatted" warning for each place a
# file would change; the file names are all this check needs. One process
# (not xargs -P) so that the warnings of two files do not interleave.
bad=$(printf '%s\0' "${files[@]}" |
  xargs -0 clang-format --style=file --dry-run 2>&1 |
  sed -n 's/^\(.*\):[0-9]*:[0-9]*: warning: code should be clang-formatted.*/\1/p' | sort -u)
if [ -n "$bad" ]; then
  echo "$bad"
  echo "check-format: $(echo "$bad" | wc -l) of ${#files[@]} files are not clang-formatted;" \
    "run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: all ${#files[@]} files are clang-formatted"
