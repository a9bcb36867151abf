#!/usr/bin/env bash
# Fuzzes the shim's probe (over an in-memory buffer) with libFuzzer and AddressSanitizer, seeded
# from the fixture corpus. `make test` runs it for FUZZ_SECONDS (default 60); for a long run:
#   FUZZ_SECONDS=3600 Fuzz/run.sh        (findings are written to Fuzz/findings/)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
work="$(mktemp -d /tmp/mw-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cc="$(command -v clang || true)"
[ -n "$cc" ] || { echo "fuzz: clang is needed (it comes with the Swift toolchain)" >&2; exit 1; }
"$cc" -fuse-ld=lld -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address -Wno-unused-parameter \
  -I Sources/CFFmpegShim/include -I Sources/CFFmpegShim $(pkg-config --cflags libavformat libass) \
  Sources/CFFmpegShim/*.c Fuzz/probe_fuzzer.c -o "$work/probe_fuzzer" \
  $(pkg-config --libs libavformat libavcodec libavutil libswscale libswresample libavfilter libass) -lespeak-ng -lm -lpthread
# Seeds: every fixture (good and bad), cut to 64 KiB so the fuzzer mutates headers, not payloads.
mkdir -p "$work/corpus" Fuzz/findings
for file in Fixtures/.cache/*; do head -c 65536 "$file" > "$work/corpus/$(basename "$file")"; done
export ASAN_OPTIONS=detect_leaks=1
LSAN_OPTIONS="suppressions=$(pwd)/Fuzz/lsan.supp:print_suppressions=0" \
  "$work/probe_fuzzer" "$work/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=Fuzz/findings/ -print_final_stats=1 2>&1 | tail -n 12
