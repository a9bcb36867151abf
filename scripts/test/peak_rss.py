"""Runs a command and prints {"status": N, "peak_rss_kb": K, "stdout": ..., "stderr": ...} as JSON.

The peak resident set size comes from wait4(2), as the kernel counted it for the child.
usage: peak_rss.py COMMAND [ARG ...]
"""
import json
import os
import subprocess
import sys
import tempfile

with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    process = subprocess.Popen(sys.argv[1:], stdout=out, stderr=err)
    _, status, usage = os.wait4(process.pid, 0)
    out.seek(0)
    err.seek(0)
    json.dump({"status": os.waitstatus_to_exitcode(status), "peak_rss_kb": usage.ru_maxrss,
               "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}, sys.stdout)
