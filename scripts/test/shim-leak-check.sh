#!/usr/bin/env bash
# Builds every CFFmpegShim source with a driver that calls each public operation (good and bad
# inputs, success, failure and cancel paths) under AddressSanitizer with LeakSanitizer, and runs
# it on the fixtures: a leak, an invalid access or a wrong status fails. Part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d /tmp/mw-leak-check.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cc="$(command -v clang || true)"
[ -n "$cc" ] || { echo "shim-leak-check: clang is needed (it comes with the Swift toolchain)" >&2; exit 1; }
libs="$(pkg-config --libs libavformat libavcodec libavutil libswscale libswresample libavfilter libass) -lespeak-ng -lm -lpthread"
"$cc" -fuse-ld=lld -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=address -Wall -Wno-unused-parameter \
  -I Sources/CFFmpegShim/include -I Sources/CFFmpegShim $(pkg-config --cflags libavformat libass) \
  Sources/CFFmpegShim/*/*.c scripts/test/shim_leak_check.c -o "$work/shim_leak_check" $libs
mkdir -p "$work/out"
# Leaks inside system libraries' own caches (fontconfig's configuration) are theirs, not ours.
printf 'leak:libfontconfig\nleak:FcConfig\n' > "$work/suppressions"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 LSAN_OPTIONS="suppressions=$work/suppressions:print_suppressions=0"
# First prove the checker can fail: a deliberate leak must be reported.
if MW_LEAK_CHECK_SELF_TEST=1 "$work/shim_leak_check" Fixtures/.cache "$work/out" 2>"$work/self-test.log"; then
  echo "shim-leak-check: LeakSanitizer missed a deliberate leak" >&2
  exit 1
fi
grep -q "LeakSanitizer: detected memory leaks" "$work/self-test.log" || { cat "$work/self-test.log" >&2; exit 1; }
"$work/shim_leak_check" Fixtures/.cache "$work/out"
