#!/usr/bin/env bash
# libFuzzer with AddressSanitizer on (1) the shim's probe over an in-memory buffer, seeded from the
# fixture corpus, and (2) the job decoder (every inbox item a producer could push), seeded with job
# envelopes and a MinIO record. `make test` runs each for FUZZ_SECONDS (default 60); a long run:
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
  Sources/CFFmpegShim/*/*.c Fuzz/probe_fuzzer.c -o "$work/probe_fuzzer" \
  $(pkg-config --libs libavformat libavcodec libavutil libswscale libswresample libavfilter libass) -lespeak-ng -lm -lpthread
# Seeds: every fixture (good and bad), cut to 64 KiB so the fuzzer mutates headers, not payloads.
mkdir -p "$work/corpus" Fuzz/findings
for file in Fixtures/.cache/*; do head -c 65536 "$file" > "$work/corpus/$(basename "$file")"; done
export ASAN_OPTIONS=detect_leaks=1
LSAN_OPTIONS="suppressions=$(pwd)/Fuzz/lsan.supp:print_suppressions=0" \
  "$work/probe_fuzzer" "$work/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=Fuzz/findings/ -print_final_stats=1 2>&1 | tail -n 6

# The job decoder: Swift, built with the sanitizers in a build folder of its own.
swift build --package-path Fuzz --build-path .build-fuzz -c debug --product JobDecoderFuzzer \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
mkdir -p "$work/jobs"
i=0
while IFS= read -r line; do i=$((i + 1)); printf '%s' "$line" > "$work/jobs/seed-$i.json"; done <<'SEEDS'
{"id":"j1","type":"transcode","input":{"url":"s3://raw/file-555.mp4"},"output":{"url":"s3://media/"},"movie_id":"movie-101","priority":"high","max_attempts":3}
{"type":"thumbnails","input":{"url":"file:///srv/media/in.mp4"},"output":{"url":"file:///srv/media/out/"},"options":{"count":4},"delay_ms":500}
{"type":"compose","run_at":"2026-11-25T00:00:00Z","output":{"url":"s3://media/v/"},"options":{"scenes":[{"visual":"s3://a/b.png","text":"Hi"}]},"metadata":{"tenant":"acme"}}
{"type":"noop","timeout_s":60,"options":{"duration_ms":5},"file_id":"f-1","metadata":{"account":12345678901234567890}}
{"type":"transcode","input":{"url":"s3://raw/a.mp4"},"options":{"renditions":[720,360],"segment_format":"ts","thumbnails":2.0,"preset":"fast"}}
{"type":"compose","options":{"scenes":[{"visual":"s3://a/b.png","duration_s":2}],"ken_burns":{"zoom":0.2},"output":{"fps":29.97}}}
[{"Event":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":"a%20b.mp4","size":10,"userMetadata":{"X-Amz-Meta-Movie-Id":"m1"}}}}],"EventTime":"2026-11-21T00:00:00Z"}]
SEEDS
LSAN_OPTIONS="suppressions=$(pwd)/Fuzz/lsan.supp:print_suppressions=0" \
  .build-fuzz/debug/JobDecoderFuzzer "$work/jobs" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=Fuzz/findings/ -print_final_stats=1 2>&1 | tail -n 6
