#!/usr/bin/env bash
# Compose benchmark: 10 scenes x 5 s at 1080p30 with Ken Burns and crossfades, MediaWorker's
# compose job vs the equivalent single ffmpeg CLI filter graph on the same inputs, in one run.
# Installs what is missing, builds the release binary, prints the ratio and peak memory.
# usage: Benchmarks/compose/run.sh [--repeat N] [--scenes N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
swift build -c release --product media-worker >/dev/null
exec .venv/bin/python Benchmarks/compose/bench.py .build/release/media-worker "$@"
