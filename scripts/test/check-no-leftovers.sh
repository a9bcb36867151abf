#!/usr/bin/env bash
# usage: check-no-leftovers.sh RUN_TMPDIR
# Fails when a test left a redis-server or moto_server behind. Test servers run with their
# working directory in RUN_TMPDIR/mw-test-*, which is what this looks for.
run_tmp="${1:?usage: check-no-leftovers.sh RUN_TMPDIR}"
leftovers() {
  for proc in /proc/[0-9]*; do
    case "$(readlink "$proc/cwd" 2>/dev/null)" in
      "$run_tmp"/mw-test-*) echo "${proc#/proc/} $(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null)" ;;
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
