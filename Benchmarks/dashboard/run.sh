#!/usr/bin/env bash
# Dashboard page latency with 100,000 jobs (release build). usage: Benchmarks/dashboard/run.sh [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
swift build -c release --product media-worker >&2
exec .venv/bin/python Benchmarks/dashboard/bench.py .build/release/media-worker "$@"
