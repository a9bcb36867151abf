#!/usr/bin/env bash
# Fails when a test left a redis-server or moto_server behind. Test servers are started
# with their working directory in a temp dir named mw-test-*, which is what this looks for.
leftovers() {
  for proc in /proc/[0-9]*; do
    case "$(readlink "$proc/cwd" 2>/dev/null)" in
      */mw-test-*) echo "${proc#/proc/} $(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null)" ;;
    esac
  done
}
for _ in $(seq 1 20); do
  [ -z "$(leftovers)" ] && exit 0
  sleep 0.25
done
echo "test servers still running after the tests:" >&2
leftovers >&2
exit 1
