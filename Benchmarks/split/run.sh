#!/usr/bin/env bash
# One long video across the pool: a generated 4-minute 720p30 source with audio, transcoded by
# one worker pinned to one core without splitting, then by two workers pinned to a core each
# with splitting, in one run. Prints wall times, the speed-up, total CPU, the parts' timings and
# the critical path projected for 4, 8 and 16 workers.
# usage: Benchmarks/split/run.sh [--minutes 4] [--chunk-s 30]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
command -v taskset >/dev/null || { echo "split benchmark: taskset is missing (apt-get install util-linux)" >&2; exit 1; }
swift build -c release --product media-worker >/dev/null
exec .venv/bin/python Benchmarks/split/bench.py .build/release/media-worker "$@"
