#!/usr/bin/env bash
# Queue benchmark: MediaWorker vs Python RQ on one private redis-server. Installs what is
# missing, builds the release binary, prints throughput, latency, ratios and peak memory.
# usage: Benchmarks/queue/run.sh [--jobs N] [--repeat N] [--baseline REF] [--skip-growth] [--skip-workers] ... (--help)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
swift build -c release --product media-worker >/dev/null
exec .venv/bin/python Benchmarks/queue/bench.py .build/release/media-worker "$@"
