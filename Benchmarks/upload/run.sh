#!/usr/bin/env bash
# Publishing a 10-minute ladder's package (about 1,500 objects, the sizes of the default ladder's
# segments) to S3 (moto_server, signatures checked): MediaWorker's uploader serial against
# parallel (MW_UPLOAD_CONCURRENCY 8), and boto3 with 10 threads (what `aws s3 cp --recursive`
# does) as the alternative, in one run. Prints wall times, ratios and peak RSS.
# usage: Benchmarks/upload/run.sh [--objects 1500] [--repeat 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh
swift build -c release --product media-worker >/dev/null
exec .venv/bin/python Benchmarks/upload/bench.py .build/release/media-worker "$@"
