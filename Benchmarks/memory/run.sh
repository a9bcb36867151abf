#!/usr/bin/env bash
# Memory under big jobs: the worker's peak RSS for (1) a transcode of a 2 GB input from S3 to S3
# with stream-copy packaging (moto_server as S3) and (2) a 10-minute 1080p ladder transcode.
# Installs what is missing, builds the release binary, prints the figures against their limits.
# usage: Benchmarks/memory/run.sh [--size-gb 2] [--ladder-minutes 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
Fixtures/generate.sh
swift build -c release --product media-worker >/dev/null
exec .venv/bin/python Benchmarks/memory/bench.py .build/release/media-worker "$@"
