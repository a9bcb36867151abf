#!/usr/bin/env bash
# usage: bound-to-parent.sh PARENT_PID COMMAND [ARG...]
# Runs COMMAND and stops it when PARENT_PID is gone, so that a test process that is
# killed (SIGKILL leaves no chance to clean up) never leaves a server running.
# SIGTERM or SIGINT to this script stops COMMAND too.
set -u
parent=$1; shift
"$@" &
child=$!
stop() {
  kill -TERM "$child" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
}
trap 'stop; exit 0' TERM INT HUP
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
  sleep 0.3 & wait $!
done
stop
