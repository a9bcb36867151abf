#!/usr/bin/env bash
# `make run`: the daemon in the foreground with local-directory storage under ./var.
# Starts a private redis-server on 127.0.0.1:6379 when MW_REDIS_URL is unset and none answers there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/storage var/redis
redis_pid=""
worker_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill -TERM "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 0' TERM INT

if [ -z "${MW_REDIS_URL:-}" ]; then
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "run: using the redis-server already answering on 127.0.0.1:6379" >&2
  else
    echo "run: starting redis-server on 127.0.0.1:6379 (data in var/redis)" >&2
    redis-server --bind 127.0.0.1 --port 6379 --dir "$PWD/var/redis" --appendonly yes --save "" \
      --logfile "$PWD/var/redis/redis.log" &
    redis_pid=$!
    for _ in $(seq 1 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
fi
export MW_STORAGE_ROOT="${MW_STORAGE_ROOT:-$PWD/var/storage}"
export MW_HTTP_ADDR="${MW_HTTP_ADDR:-127.0.0.1:8080}"
cat >&2 <<TXT
run: health on http://${MW_HTTP_ADDR}/healthz, readiness on /readyz, metrics on /metrics
run: storage root ${MW_STORAGE_ROOT}; stop with Ctrl-C
run: first job:  redis-cli RPUSH 'mw:{default}:inbox' '{"id":"hello","type":"noop","options":{"duration_ms":1500}}'
run: then:       .build/release/media-worker status hello   (and: media-worker events)
run: dashboard:  .build/release/media-worker dashboard      (another shell; http://127.0.0.1:8090)
run: a video:    mkdir -p ${MW_STORAGE_ROOT}/raw && cp Fixtures/.cache/h264-aac-1080p30-10s.mp4 ${MW_STORAGE_ROOT}/raw/clip.mp4 2>/dev/null;
                 redis-cli RPUSH 'mw:{default}:inbox' '{"id":"clip-1","type":"transcode","input":{"url":"file://${MW_STORAGE_ROOT}/raw/clip.mp4"},"output":{"url":"file://${MW_STORAGE_ROOT}/media/"}}'
TXT
.build/release/media-worker run "$@" &
worker_pid=$!
wait "$worker_pid"
worker_pid=""
