#!/usr/bin/env bash
# Quality benchmark: per-title ladders against the fixed ladder on nine generated sources (the three
# the rules were tuned on and six kinds of content they were not), judged by the ffmpeg CLI's psnr
# filter. Installs what is missing, builds the release binary, prints ratios.
# usage: Benchmarks/quality/run.sh [--seconds N] [--corpus all|tuned|wide] [--skip-report]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
swift build -c release --product media-worker >/dev/null
exec .venv/bin/python Benchmarks/quality/bench.py .build/release/media-worker "$@"
