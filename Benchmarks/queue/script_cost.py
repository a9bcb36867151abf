"""Instructions Redis spends per no-op job in the queue's scripts: counted, not timed.

Times on a shared VM move by 10-15 % from run to run; a count of instructions does not. This
captures one worker's drain of N no-op jobs (MONITOR on a private redis-server: the producer's
push and every call the worker made, in the order Redis ran them), then replays the capture on a
fresh redis-server under valgrind's callgrind once per script tree: the same calls, each tree's
scripts. It prints, per tree, the instructions of the replay per job (the whole server, counted
from the first replayed command), the jobs the replay completed, the calls that answered with an
error, and the ratio to the first tree.

A tree is a checkout (its scripts/ and Sources/QueueClient/Lua) or a git revision (`git archive`
of them). The capture is the calls of the binary given, so compare script changes that keep its
calls' arguments: a tree whose scripts take other arguments answers with errors and completes
fewer jobs, both printed. Blocking reads are replayed as their plain forms, after the push that
served them.

usage: script_cost.py MEDIA_WORKER_BINARY [--jobs 5000] [--concurrency 8] [--tree PATH_OR_REF ...]
                      [--redis-server redis-server] [--keep-profiles DIR]
(valgrind: apt-get install valgrind; a redis-server built with symbols gives named profiles)
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the throughput run, the worker and the free port)

MONITOR_LINE = re.compile(r'^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$')
UNESCAPE = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", '"': b'"', "\\": b"\\"}


def monitor_arguments(text):
    """A MONITOR line's arguments: quoted, with Redis's escapes (sdscatrepr)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        assert text[i] == '"', text[i:i + 20]
        i += 1
        value = bytearray()
        while text[i] != '"':
            if text[i] == "\\":
                if text[i + 1] == "x":
                    value.append(int(text[i + 2:i + 4], 16))
                    i += 4
                else:
                    value += UNESCAPE[text[i + 1]]
                    i += 2
            else:
                value += text[i].encode("latin-1")
                i += 1
        out.append(bytes(value))
        i += 1
    return out


def capture(binary, jobs, concurrency, workdir, server):
    """The top-level calls of one drain, in Redis's order, and the scripts' names by SHA-1."""
    port = bench.free_port()
    process = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                                "--dir", workdir], stdout=subprocess.DEVNULL)
    path = os.path.join(workdir, "monitor.txt")
    try:
        r = redis.Redis(port=port)
        bench.wait_for(lambda: bench._ping(r), 10, 0.05)
        with open(path, "w") as out:
            monitor = subprocess.Popen(["redis-cli", "-p", str(port), "monitor"], stdout=out)
            time.sleep(0.3)
            rate, _, _ = bench.ours_throughput(r, binary, port, concurrency, jobs, workdir, name="script-cost")
            time.sleep(0.3)
            monitor.terminate()
            monitor.wait()
    finally:
        process.terminate()
        process.wait()
    calls, names = [], {}
    with open(path, encoding="latin-1") as lines:
        for line in lines:
            match = MONITOR_LINE.match(line.rstrip("\n"))
            if not match or match.group(1) == "lua":  # a script's own calls run again in the replay
                continue
            arguments = monitor_arguments(match.group(2))
            command = arguments[0].upper()
            if command == b"SCRIPT" and arguments[1].upper() == b"LOAD":
                names[hashlib.sha1(arguments[2]).hexdigest()] = re.findall(rb"\n-- (\w+)\n", arguments[2])[-1].decode()
            elif command in (b"CLIENT", b"INFO", b"PING", b"FLUSHALL", b"SCRIPT", b"CONFIG"):
                continue
            elif command == b"BLPOP":
                calls.append([b"LPOP", arguments[1]])
            elif command == b"BLMOVE":
                calls.append([b"LMOVE"] + arguments[1:5])
            else:
                calls.append(arguments)
    return rate, calls, names


def scripts_of(tree, workdir):
    """Each script of a tree as the worker loads it: the prelude, its includes, its body."""
    copy = tempfile.mkdtemp(prefix="tree-", dir=workdir)
    if os.path.isdir(tree):
        shutil.copytree(os.path.join(tree, "scripts"), os.path.join(copy, "scripts"))
        shutil.copytree(os.path.join(tree, "Sources", "QueueClient", "Lua"), os.path.join(copy, "Sources", "QueueClient", "Lua"))
    else:
        archive = subprocess.run(["git", "-C", ROOT, "archive", tree, "scripts", "Sources/QueueClient/Lua"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", copy], input=archive, check=True)
    os.makedirs(os.path.join(copy, "Sources", "QueueClient", "Scripts"), exist_ok=True)
    assembled = os.path.join(copy, "assembled")
    subprocess.run([sys.executable, os.path.join(copy, "scripts", "embed-lua.py"), "--assemble", assembled],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scripts = {}
    for name in os.listdir(assembled):
        if name.endswith(".cluster.lua"):
            continue
        # The assembled files carry luacheck's markers and the files' paths; Redis is given neither.
        text = open(os.path.join(assembled, name), "rb").read()
        text = b"\n".join(line for line in text.split(b"\n") if not line.startswith(b"-- luacheck:"))
        scripts[name[:-4]] = re.sub(rb"\n-- (\w+) \([^)\n]*\)\n", rb"\n-- \1\n", text).rstrip(b"\n")
    return scripts


def replay(calls, names, scripts, server, workdir, profile):
    """Runs the calls on a fresh server under callgrind: (instructions, completed jobs, errors)."""
    port = bench.free_port()
    process = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}", "--instr-atstart=no",
                                server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                                "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        bench.wait_for(lambda: bench._ping(r), 60, 0.1)
        shas = {name: r.script_load(body) for name, body in scripts.items()}
        subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        errors, blocked = 0, []
        for call in calls:
            if call[0].upper() == b"EVALSHA":
                name = names.get(call[1].decode())
                if name not in shas:
                    errors += 1
                    continue
                call = [b"EVALSHA", shas[name].encode()] + call[2:]
            try:
                answer = r.execute_command(*call)
            except redis.ResponseError:
                errors += 1
                continue
            # A blocking read that found nothing was served by a later push: replay it after that.
            if call[0] in (b"LPOP", b"LMOVE") and answer is None and call[1].endswith((b"inbox", b"marker")):
                blocked.append(call)
                continue
            blocked = [b for b in blocked if r.execute_command(*b) is None]
        completed = r.zcard("mw:{default}:completed")
        r.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    finally:
        process.wait()
    text = open(profile).read()
    total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    return int(total.group(1)), completed, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tree", action="append", help="a checkout or a git revision (repeatable; default: this checkout)")
    parser.add_argument("--redis-server", default="redis-server")
    parser.add_argument("--keep-profiles", metavar="DIR", help="keep each replay's callgrind profile here")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is missing: apt-get install valgrind")
    trees = args.tree or [ROOT]
    workdir = tempfile.mkdtemp(prefix="mw-script-cost-")
    try:
        rate, calls, names = capture(args.binary, args.jobs, args.concurrency, workdir, args.redis_server)
        print(f"captured: {args.jobs} no-op jobs at concurrency {args.concurrency} ({rate:.0f} jobs/s), "
              f"{len(calls)} calls, {sum(c[0].upper() == b'EVALSHA' for c in calls)} of them scripts", flush=True)
        print(f"{'tree':44}{'instructions/job':>18}{'completed':>11}{'errors':>8}{'ratio':>8}")
        first = None
        for index, tree in enumerate(trees):
            profile = os.path.join(args.keep_profiles or workdir, f"callgrind.{index}.out")
            if args.keep_profiles:
                os.makedirs(args.keep_profiles, exist_ok=True)
            instructions, completed, errors = replay(calls, names, scripts_of(tree, workdir), args.redis_server, workdir, profile)
            per_job = instructions / args.jobs
            first = first or per_job
            label = os.path.relpath(tree, ROOT) if os.path.isdir(tree) else tree
            print(f"{label:44}{per_job:>18,.0f}{completed:>11}{errors:>8}{per_job / first:>8.3f}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
