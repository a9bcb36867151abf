#!/usr/bin/env bash
# Media benchmark: MediaWorker vs the ffmpeg CLI on the 1080p30 fixture (or a file you name).
# Installs what is missing, builds the release binary and the fixtures, prints ratios and peak memory.
# usage: Benchmarks/media/run.sh [SOURCE] [--repeat N] [--skip-codecs | --only-codecs] [--skip-qc] [--skip-captions | --only-captions]
# (the flags work with or without SOURCE: a first argument that starts with -- is a flag)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
Fixtures/generate.sh
swift build -c release --product media-worker >/dev/null
source_file=Fixtures/.cache/h264-aac-1080p30-10s.mp4
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then
  source_file="$1"
  shift
fi
exec .venv/bin/python Benchmarks/media/bench.py .build/release/media-worker "$source_file" "$@"
