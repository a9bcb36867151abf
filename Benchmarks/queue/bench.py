"""Queue benchmark: MediaWorker's queue against Python RQ, side by side on one redis-server.

Measures no-op job throughput of one worker process (ours at concurrency 1 and 8; RQ's
SimpleWorker in burst mode, which runs jobs in its own process without forking) and
enqueue-to-start latency (p50/p99) with jobs pushed one at a time to an idle worker.
Then what the Redis topology costs ours (one worker, concurrency 8, three queues): one plain
server, the same over TLS (rediss://, and RQ over TLS beside it), and a 3-master Redis Cluster
with each queue on its own master (redis+cluster://).
Prints the figures, the ratios and each worker's peak memory (VmHWM / ru_maxrss).

The cost model: for every run of ours, per no-op job, the Redis commands executed (INFO
commandstats: scripts' inner calls included, the benchmark's own polling left out), Redis CPU
microseconds (used_cpu_sys + used_cpu_user), the worker's own CPU microseconds (user + system,
all threads, from /proc), round trips from the worker (its mw_redis_round_trips_total) and bytes
into and out of Redis (the producer's push included);
and the same for a transcode's queue traffic. `--baseline REF` builds another revision into a
scratch folder and runs both in the same sitting, alternating, so a regression is a ratio.
Then how it scales: the growth table (jobs waiting, finished and dead: throughput and Redis
memory per job) and the workers table (1, 4, 16, 64 worker processes against one Redis).

usage: bench.py MEDIA_WORKER_BINARY [--jobs N] [--latency-jobs N] [--repeat N] [--baseline REF]
                [--growth-sizes 1000,100000,1000000] [--workers 1,4,16,64] [--skip-topologies]
                [--skip-growth] [--skip-workers] [--skip-transcode] [--skip-tracing]
Tracing: the same no-op jobs carrying a traceparent, with tracing off and on (exporting over
OTLP/HTTP to the tests' receiver), alternating (with --baseline, that revision's binary too);
jobs/s and the worker's CPU per job; the aim is at most 5 % fewer jobs/s.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import redis
from redis.cluster import RedisCluster
from rq import Queue, SimpleWorker

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rq_jobs  # noqa: E402  (RQ needs the functions importable by module path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, interval=0.005):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class RedisWindow:
    """What one redis-server did between `open` and `close`: commands by name (INFO
    commandstats, scripts' inner calls included), CPU seconds and network bytes. The
    benchmark's own calls inside the window (its polling) are counted and left out."""

    def __init__(self, r):
        self.r = r
        self.own = {}
        self.before = self._snapshot()

    def _snapshot(self):
        info = self.r.execute_command("INFO", "commandstats", "cpu", "stats", "memory")
        commands = {key[len("cmdstat_"):]: value["calls"] for key, value in info.items() if key.startswith("cmdstat_")}
        times = {key[len("cmdstat_"):]: value["usec"] for key, value in info.items() if key.startswith("cmdstat_")}
        # Time inside commands as Redis counts it: a script's includes its inner calls, so only
        # top-level ones (EVALSHA and plain commands) are summed; the rest of the CPU is I/O.
        usec = sum(value["usec"] for key, value in info.items() if key.startswith("cmdstat_"))
        inner = sum(value["usec"] for key, value in info.items() if key.startswith("cmdstat_evalsha"))
        return {"commands": commands, "times": times, "usec": usec, "script_usec": inner, "cpu": float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
                "in": int(info["total_net_input_bytes"]), "out": int(info["total_net_output_bytes"]), "memory": int(info["used_memory"])}

    def mine(self, command, count=1):
        self.own[command] = self.own.get(command, 0) + count

    def close(self):
        after = self._snapshot()
        self.mine("info")  # the INFO that opened the window is counted in the one that closes it
        commands, times = {}, {}
        for name, calls in after["commands"].items():
            done = calls - self.before["commands"].get(name, 0) - self.own.get(name, 0)
            if done > 0:
                commands[name] = done
                times[name] = after["times"][name] - self.before["times"].get(name, 0)
        return {"commands": commands, "times": times, "cpu_s": after["cpu"] - self.before["cpu"], "script_us": after["script_usec"] - self.before["script_usec"], "in": after["in"] - self.before["in"],
                "out": after["out"] - self.before["out"], "memory": after["memory"] - self.before["memory"]}


class Cost:
    """Per job: commands, Redis CPU microseconds, round trips from the worker, bytes in and out."""

    def __init__(self, window, jobs, round_trips):
        self.jobs = jobs
        self.by_command = {name: calls / jobs for name, calls in window["commands"].items()}
        # Microseconds inside each command per job (a script's includes its inner calls).
        self.time_by_command = {name: usec / jobs for name, usec in window["times"].items()}
        self.commands = sum(self.by_command.values())
        self.cpu_us = window["cpu_s"] * 1e6 / jobs
        self.script_us = window["script_us"] / jobs
        self.round_trips = round_trips / jobs if round_trips is not None else float("nan")
        self.bytes_in = window["in"] / jobs
        self.bytes_out = window["out"] / jobs
        # The worker's own CPU (user + system, all threads) per job, when the run measured it.
        self.worker_cpu_us = float("nan")


def worker_counter(http_port, name):
    """A counter's value from the worker's /metrics (summed over its labels), or None."""
    import urllib.request
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5).read().decode()
    except Exception:
        return None
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name) and not line.startswith("#")]
    return sum(values) if values else None


def wait_counting(window, r, condition_command, target, timeout, interval=0.005):
    """Polls `condition_command` (a ZCARD, LLEN ...) until it reaches `target`; the polls are
    the benchmark's own commands and are left out of the window's counts."""
    name, *arguments = condition_command
    deadline = time.time() + timeout
    while True:
        value = r.execute_command(name, *arguments)
        window.mine(name.lower())
        if value >= target:
            return True
        if time.time() > deadline:
            return False
        time.sleep(interval)


def measured_drain(r, payloads, completed, timeout, interval=0.005, what="jobs"):
    """Pushes `payloads` onto the default queue's inbox (redis-py, chunked) and waits until
    `completed` jobs are completed in all, inside a RedisWindow: (seconds, the window's counts).
    The push is part of the jobs' cost; the polling is not."""
    window = RedisWindow(r)
    started = time.time()
    push_chunked(r, "mw:{default}:inbox", payloads)
    if not wait_counting(window, r, ["ZCARD", "mw:{default}:completed"], completed, timeout, interval):
        raise SystemExit(f"only {r.zcard('mw:{default}:completed')} of {completed} {what} completed "
                         f"(dead: {r.zcard('mw:{default}:dead')}); see the worker logs")
    return time.time() - started, window.close()


def round_trips(before, after):
    return after - before if before is not None and after is not None else None


class OurWorker:
    def __init__(self, binary, redis_port, concurrency, workdir, url=None, extra_env=None, name=None):
        self.http_port = free_port()
        env = dict(os.environ, MW_REDIS_URL=url or f"redis://127.0.0.1:{redis_port}/0", MW_HTTP_ADDR=f"127.0.0.1:{self.http_port}",
                   MW_CONCURRENCY=str(concurrency), MW_LOG_LEVEL="warning", MW_WORKER_ID=f"bench-{name or f'c{concurrency}'}",
                   MW_STORAGE_ROOT=os.path.join(workdir, "storage"), **(extra_env or {}))
        self.log = open(os.path.join(workdir, f"worker-{name or f'c{concurrency}'}.log"), "w")
        self.process = subprocess.Popen([binary, "run"], env=env, stdout=self.log, stderr=self.log)

    def wait_ready(self):
        import urllib.request

        def ready():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=1).status == 200
            except Exception:
                return False
        if not wait_for(ready, 30, 0.05):
            raise SystemExit("media-worker did not become ready; see its log")

    def cpu_seconds(self):
        """The worker's CPU time so far (user + system, all threads), from /proc."""
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        peak = peak_rss_mb(self.process.pid)
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        return peak


def ours_throughput(r, binary, port, concurrency, jobs, workdir, name=None):
    """One worker draining `jobs` no-op jobs pushed by redis-py: (jobs/s, peak RSS MB, Cost)."""
    r.flushall()
    worker = OurWorker(binary, port, concurrency, workdir, name=name)
    worker.wait_ready()
    trips_before = worker_counter(worker.http_port, "mw_redis_round_trips_total")
    payloads = [json.dumps({"id": f"t{i}", "type": "noop"}) for i in range(jobs)]
    cpu_before = worker.cpu_seconds()
    elapsed, measured = measured_drain(r, payloads, jobs, 300)
    worker_cpu_us = (worker.cpu_seconds() - cpu_before) / jobs * 1e6
    trips = round_trips(trips_before, worker_counter(worker.http_port, "mw_redis_round_trips_total"))
    cost = Cost(measured, jobs, trips)
    cost.worker_cpu_us = worker_cpu_us
    return jobs / elapsed, worker.stop(), cost


def tracing_rows(r, binaries, port, jobs, workdir, repeat):
    """Tracing's cost: one worker at c8 draining `jobs` no-op jobs that carry a sampled W3C
    traceparent (as a traced producer's do), with tracing off and on (OTLP/HTTP to the tests'
    receiver, scripts/test/otlp_receiver.py --count-only, on this machine), alternating `repeat`
    times; "child" is "on" with MW_TRACE_PRODUCER_SPAN=child (no new trace id per attempt).
    The worker's CPU per job is counted from the push until the last span is received (the
    export included): less noisy than jobs/s when the cores are not saturated.
    With a baseline, its binary runs the same modes, alternating with this tree's.
    ({(label, mode): [jobs/s]}, {(label, mode): [peak RSS MB]}, spans received per traced run,
    {(label, mode): [CPU µs/job]})."""
    counts = os.path.join(workdir, "spans.count")
    receiver = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "..", "scripts", "test", "otlp_receiver.py"), counts, "--count-only"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    endpoint = f"http://127.0.0.1:{int(receiver.stdout.readline())}"

    def received():
        try:
            return int(open(counts).read() or 0)
        except (OSError, ValueError):
            return 0
    modes = ("off", "on", "child")
    keys = [(label, m) for label, _ in binaries for m in modes]
    rates, peaks, spans, cpu = {k: [] for k in keys}, {k: [] for k in keys}, [], {k: [] for k in keys}
    try:
        for run in range(repeat):
            for (label, binary), mode in [(b, m) for b in binaries for m in modes]:
                key = (label, mode)
                r.flushall()
                env = {} if mode == "off" else {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
                if mode == "child":
                    env["MW_TRACE_PRODUCER_SPAN"] = "child"
                worker = OurWorker(binary, port, 8, workdir, name=f"tracing-{binaries.index((label, binary))}-{mode}-{run}", extra_env=env)
                worker.wait_ready()
                before = received()
                payloads = [json.dumps({"id": f"tr{i}", "type": "noop",
                                        "traceparent": f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"}) for i in range(jobs)]
                cpu_before = worker.cpu_seconds()
                elapsed, _ = measured_drain(r, payloads, jobs, 300)
                rates[key].append(jobs / elapsed)
                if mode != "off":
                    wait_for(lambda: received() - before >= jobs, 30, 0.02)
                cpu[key].append((worker.cpu_seconds() - cpu_before) / jobs * 1e6)
                # The exporter flushes what it holds when the worker stops (graceful shutdown).
                peaks[key].append(worker.stop())
                if mode != "off":
                    wait_for(lambda: received() - before >= jobs, 30, 0.1)
                    spans.append(received() - before)
    finally:
        receiver.terminate()
        receiver.wait()
    return rates, peaks, spans, cpu


def transcode_cost(r, binary, port, workdir, source, jobs):
    """A transcode's queue traffic (ingest, start, heartbeats, progress, publication, events):
    `jobs` transcodes of `source`, measured like the no-op jobs: (Cost, seconds per job)."""
    r.flushall()
    storage = os.path.join(workdir, "storage")
    os.makedirs(os.path.join(storage, "raw"), exist_ok=True)
    input_path = os.path.join(storage, "raw", os.path.basename(source))
    shutil.copyfile(source, input_path)
    worker = OurWorker(binary, port, 1, workdir, name="transcode")
    worker.wait_ready()
    trips_before = worker_counter(worker.http_port, "mw_redis_round_trips_total")
    payloads = [json.dumps({"id": f"tc{i}", "type": "transcode", "input": {"url": f"file://{input_path}"},
                            "output": {"url": f"file://{storage}/media/"}}) for i in range(jobs)]
    elapsed, measured = measured_drain(r, payloads, jobs, 600, 0.05, what="transcodes")
    trips = round_trips(trips_before, worker_counter(worker.http_port, "mw_redis_round_trips_total"))
    worker.stop()
    return Cost(measured, jobs, trips), elapsed / jobs


def split_cost(r, binary, port, workdir, chunks):
    """A split transcode of `chunks` 6-second chunks (a small generated source, so the queue's
    share shows): per part, Redis commands, script time, the part record's bytes and its
    payload's, and the whole job's seconds. Constant per part is the aim, whatever `chunks`."""
    r.flushall()
    storage = os.path.join(workdir, "storage")
    os.makedirs(os.path.join(storage, "raw"), exist_ok=True)
    source = os.path.join(storage, "raw", f"split-{chunks}.mp4")
    if not os.path.exists(source):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=128x72:rate=10:duration={chunks * 6}",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-pix_fmt", "yuv420p", source], check=True)
    worker = OurWorker(binary, port, 4, workdir, name=f"split{chunks}", extra_env={"MW_TEMP_DIR": os.path.join(workdir, "tmp")})
    worker.wait_ready()
    job = {"id": f"split{chunks}", "type": "transcode", "input": {"url": f"file://{source}"}, "output": {"url": f"file://{storage}/media/"},
           "options": {"split": {"chunk_s": 6}, "storyboard": False, "thumbnails": 0, "quality_sample": 0}}
    # Its parts and the job itself complete.
    elapsed, measured = measured_drain(r, [json.dumps(job)], chunks + 2, 1800, 0.2, what=f"parts and job of a {chunks}-chunk split")
    children = json.loads(r.hget(f"mw:{{default}}:job:split{chunks}", "children") or b"[]")
    record_bytes = [r.memory_usage(f"mw:{{default}}:job:{child}") or 0 for child in children]
    payload_bytes = [r.hstrlen(f"mw:{{default}}:job:{child}", "payload") for child in children]
    worker.stop()
    parts = len(children)
    return {"chunks": chunks, "parts": parts, "seconds": elapsed, "script_us": measured["script_us"] / parts,
            "commands": sum(measured["commands"].values()) / parts, "record_bytes": statistics.mean(record_bytes),
            "payload_bytes": statistics.mean(payload_bytes), "in": measured["in"] / parts, "out": measured["out"] / parts}


def cli_env(port):
    return dict(os.environ, MW_REDIS_URL=f"redis://127.0.0.1:{port}/0", MW_LOG_LEVEL="warning")


def push_chunked(r, key, payloads, chunk=1000):
    pipe = r.pipeline(transaction=False)
    for start in range(0, len(payloads), chunk):
        pipe.rpush(key, *payloads[start:start + chunk])
        if len(pipe) >= 50:
            pipe.execute()
    pipe.execute()


def preload_waiting(r, binary, port, size, measured, workdir):
    """`size` low-priority no-op jobs left waiting, made by the worker's own ingest: a worker
    at concurrency 1 is kept busy by one long job (so it ingests but runs nothing), then killed;
    the long job is cancelled. Returns (enqueue jobs/s of `measured` more on top of `size`,
    Redis bytes per waiting job)."""
    r.flushall()
    memory_before = int(r.info("memory")["used_memory"])
    loader = OurWorker(binary, port, 1, workdir, name="preload")
    loader.wait_ready()
    r.rpush("mw:{default}:inbox", json.dumps({"id": "blocker", "type": "noop", "priority": "high", "options": {"duration_ms": 86400000}}))
    if not wait_for(lambda: r.hget("mw:{default}:job:blocker", "state") == b"active", 30, 0.01):
        raise SystemExit("the preload's blocking job did not start")
    push_chunked(r, "mw:{default}:inbox", [json.dumps({"id": f"w{i}", "type": "noop", "priority": "low"}) for i in range(size)])
    if not wait_for(lambda: r.llen("mw:{default}:wait:low") >= size, 600, 0.05):
        raise SystemExit(f"the preload ingested only {r.llen('mw:{default}:wait:low')} of {size}")
    per_waiting = (int(r.info("memory")["used_memory"]) - memory_before) / size if size else float("nan")
    started = time.time()
    push_chunked(r, "mw:{default}:inbox", [json.dumps({"id": f"e{i}", "type": "noop", "priority": "low"}) for i in range(measured)])
    if not wait_for(lambda: r.llen("mw:{default}:wait:low") >= size + measured, 600, 0.002):
        raise SystemExit("the enqueue run did not finish")
    enqueue_rate = measured / (time.time() - started)
    loader.process.kill()
    loader.process.wait()
    loader.log.close()
    subprocess.run([binary, "cancel", "blocker"], env=cli_env(port), check=True, capture_output=True)
    return enqueue_rate, per_waiting


def drain_high(r, binary, port, jobs, workdir, name):
    """Jobs/s of one worker at concurrency 8 running `jobs` high-priority no-op jobs pushed at
    once, whatever else waits or is retained."""
    worker = OurWorker(binary, port, 8, workdir, name=name)
    worker.wait_ready()
    done_before = r.zcard("mw:{default}:completed")
    payloads = [json.dumps({"id": f"{name}{i}", "type": "noop", "priority": "high"}) for i in range(jobs)]
    elapsed, measured = measured_drain(r, payloads, done_before + jobs, 600)
    worker.stop()
    return jobs / elapsed, Cost(measured, jobs, None)


def finish_many(r, binary, port, count, workdir, payload):
    """`count` jobs run to their end by one worker at concurrency 8 (retained, not measured)."""
    worker = OurWorker(binary, port, 8, workdir, name="filler")
    worker.wait_ready()
    state = "dead" if "fail_with" in payload.get("options", {}) else "completed"
    before = r.zcard(f"mw:{{default}}:{state}")
    push_chunked(r, "mw:{default}:inbox", [json.dumps(dict(payload, id=f"fill-{state}-{i}")) for i in range(count)])
    if not wait_for(lambda: r.zcard(f"mw:{{default}}:{state}") >= before + count, 3600, 0.2):
        raise SystemExit(f"the filler's jobs did not end {state}")
    worker.stop()


def growth_rows(r, binary, port, sizes, jobs, workdir):
    """Throughput and Redis memory as the work grows: jobs waiting, then finished and dead
    retained. Each row: (what, count, enqueue jobs/s or None, run jobs/s, bytes per job, Cost)."""
    rows = []
    for size in [0] + sizes:
        enqueue_rate, per_job = preload_waiting(r, binary, port, size, jobs, workdir)
        run_rate, cost = drain_high(r, binary, port, jobs, workdir, f"g{size}-")
        rows.append(("waiting", size, enqueue_rate, run_rate, per_job, cost))
    finished = max(sizes)
    r.flushall()
    memory_before = int(r.info("memory")["used_memory"])
    finish_many(r, binary, port, finished, workdir, {"type": "noop"})
    per_finished = (int(r.info("memory")["used_memory"]) - memory_before) / finished
    run_rate, cost = drain_high(r, binary, port, jobs, workdir, "gf-")
    rows.append(("finished (retained)", finished, None, run_rate, per_finished, cost))
    dead = min(finished, 100_000)
    memory_before = int(r.info("memory")["used_memory"])
    finish_many(r, binary, port, dead, workdir, {"type": "noop", "max_attempts": 1, "options": {"fail_with": {"code": "BENCH_DEAD", "retryable": False}}})
    per_dead = (int(r.info("memory")["used_memory"]) - memory_before) / dead
    run_rate, cost = drain_high(r, binary, port, jobs, workdir, "gd-")
    rows.append((f"dead (retained), beside {finished:,} finished", dead, None, run_rate, per_dead, cost))
    return rows


def workers_rows(r, binary, port, counts, jobs, workdir, concurrency=2):
    """`n` worker processes (each at a small concurrency) draining `jobs` no-op jobs from one
    Redis: throughput, Redis CPU and commands per job, summed peak memory."""
    rows = []
    for count in counts:
        r.flushall()
        pool = [OurWorker(binary, port, concurrency, workdir, name=f"pool{count}-{i}") for i in range(count)]
        for worker in pool:
            worker.wait_ready()
        elapsed, measured = measured_drain(r, [json.dumps({"id": f"p{i}", "type": "noop"}) for i in range(jobs)], jobs, 900)
        peaks = [worker.stop() for worker in pool]
        rows.append((count, jobs / elapsed, Cost(measured, jobs, None), sum(peaks)))
    return rows


def build_baseline(ref):
    """Another revision's release binary, built in a scratch folder (Benchmarks/.out/baseline-<sha>)."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True, cwd=HERE).stdout.strip()
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], capture_output=True, text=True, cwd=root).stdout.strip()
    if not sha:
        raise SystemExit(f"--baseline {ref}: not a revision of this repository")
    folder = os.path.join(root, "Benchmarks", ".out", f"baseline-{sha[:12]}")
    binary = os.path.join(folder, ".build", "release", "media-worker")
    if not os.path.exists(binary):
        os.makedirs(folder, exist_ok=True)
        archive = subprocess.Popen(["git", "archive", sha], stdout=subprocess.PIPE, cwd=root)
        subprocess.run(["tar", "-x", "-C", folder], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {sha} failed")
        print(f"building the baseline {ref} ({sha[:12]}) in {folder} ...", flush=True)
        subprocess.run(["swift", "build", "-c", "release", "--product", "media-worker", "--package-path", folder,
                        "--scratch-path", os.path.join(folder, ".build")], check=True, stdout=subprocess.DEVNULL)
    return f"{ref} ({sha[:12]})", binary


def ours_latency(r, binary, port, jobs, workdir):
    r.flushall()
    worker = OurWorker(binary, port, 1, workdir)
    worker.wait_ready()
    time.sleep(0.5)
    pushed = {}
    for i in range(jobs):
        job_id = f"l{i}"
        pushed[job_id] = time.time()
        r.rpush("mw:{default}:inbox", json.dumps({"id": job_id, "type": "noop"}))
        time.sleep(0.01)
    wait_for(lambda: r.zcard("mw:{default}:completed") >= jobs, 60)
    latencies = []
    for _, fields in r.xrange("mw:{default}:events"):
        event = json.loads(fields[b"event"])
        if event["type"] == "JobStarted":
            started = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00")).timestamp()
            latencies.append(started - pushed[event["job_id"]])
    worker.stop()
    return latencies


def ours_topology_throughput(binary, url, push_client, queues, jobs, workdir, name, extra_env=None):
    """One worker, concurrency 8, serving `queues` (jobs spread evenly) on the Redis `url` names."""
    for node in getattr(push_client, "get_primaries", lambda: [None])():
        (push_client.get_redis_connection(node) if node else push_client).flushall()
    worker = OurWorker(binary, None, 8, workdir, url=url, name=name, extra_env=dict(extra_env or {}, MW_QUEUES=",".join(queues)))
    worker.wait_ready()
    started = time.time()
    for index, queue in enumerate(queues):
        payloads = [json.dumps({"id": f"{name}-{queue}-{i}", "type": "noop"}) for i in range(index, jobs, len(queues))]
        for chunk in range(0, len(payloads), 1000):
            push_client.rpush(f"mw:{{{queue}}}:inbox", *payloads[chunk:chunk + 1000])

    def completed():
        return sum(push_client.zcard(f"mw:{{{queue}}}:completed") for queue in queues)
    if not wait_for(lambda: completed() >= jobs, 300, 0.005):
        raise SystemExit(f"{name}: only {completed()} of {jobs} jobs completed; see worker-{name}.log")
    elapsed = time.time() - started
    return jobs / elapsed, worker.stop()


def make_certificates(workdir):
    """A private CA and a certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def run(*arguments):
        subprocess.run(["openssl", *arguments], cwd=workdir, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench CA", "-keyout", "ca.key", "-out", "ca.crt")
    with open(os.path.join(workdir, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "server.ext", "-out", "server.crt")
    return os.path.join(workdir, "ca.crt")


def start_redis(workdir, name, *arguments):
    directory = os.path.join(workdir, name)
    os.makedirs(directory, exist_ok=True)
    return subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, *arguments],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_cluster(workdir, masters=3):
    """`masters` cluster nodes without replicas, joined with redis-cli --cluster create."""
    ports = [free_port() for _ in range(masters)]
    # The bus on a port of its own: port + 10000 is past 65535 for a fifth of the ephemeral ports.
    servers = [start_redis(workdir, f"cluster-{port}", "--port", str(port), "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                           "--cluster-config-file", "nodes.conf") for port in ports]
    try:
        for port in ports:
            if not wait_for(lambda: _ping(redis.Redis(port=port)), 10, 0.05):
                raise SystemExit(f"cluster node on {port} did not start")
        created = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{port}" for port in ports], "--cluster-replicas", "0",
                                  "--cluster-yes"], capture_output=True, text=True)
        if created.returncode != 0:
            raise SystemExit(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
        if not wait_for(lambda: all(b"cluster_state:ok" in redis.Redis(port=port).execute_command("CLUSTER", "INFO")
                                    for port in ports), 60, 0.1):
            raise SystemExit("the benchmark's cluster did not become healthy")
    except BaseException:
        for server in servers:
            server.terminate()
            server.wait()
        raise
    return ports, servers


def queues_on_masters(cluster_client, count):
    """Queue names whose keys live on `count` different masters (redis-py's own slot map)."""
    names, taken = [], set()
    for i in range(1_000_000):
        name = f"bench{i}"
        owner = cluster_client.get_node_from_key(f"mw:{{{name}}}:inbox").port
        if owner not in taken:
            taken.add(owner)
            names.append(name)
            if len(names) == count:
                return names
    raise SystemExit("no queue names found for every master")


def topology_rows(binary, jobs, workdir):
    """Ours on one plain server, over TLS, and on a 3-master cluster; RQ over TLS beside it."""
    rows = []
    queues = ["bench-a", "bench-b", "bench-c"]
    port = free_port()
    plain = start_redis(workdir, "plain", "--port", str(port))
    try:
        r = redis.Redis(port=port)
        wait_for(lambda: _ping(r), 10, 0.05)
        rows.append(("one server, redis://", *ours_topology_throughput(binary, f"redis://127.0.0.1:{port}/0", r, queues, jobs, workdir, "plain")))
    finally:
        plain.terminate()
        plain.wait()

    ca = make_certificates(workdir)
    tls_port = free_port()
    tls = start_redis(workdir, "tls", "--port", "0", "--tls-port", str(tls_port), "--tls-cert-file", os.path.join(workdir, "server.crt"),
                      "--tls-key-file", os.path.join(workdir, "server.key"), "--tls-ca-cert-file", ca, "--tls-auth-clients", "no")
    try:
        r = redis.Redis(port=tls_port, ssl=True, ssl_ca_certs=ca)
        wait_for(lambda: _ping(r), 10, 0.05)
        rows.append(("one server, rediss:// (TLS)", *ours_topology_throughput(binary, f"rediss://127.0.0.1:{tls_port}/0", r, queues, jobs,
                                                                                workdir, "tls", {"MW_REDIS_TLS_CA": ca})))
        rq_tls = rq_throughput(r, max(1000, jobs // 4))  # RQ's rate does not depend on the count; a quarter saves minutes
    finally:
        tls.terminate()
        tls.wait()

    ports, servers = start_cluster(workdir)
    try:
        cluster = RedisCluster(host="127.0.0.1", port=ports[0])
        spread = queues_on_masters(cluster, len(ports))
        url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
        rows.append((f"cluster of {len(ports)} masters, a queue on each", *ours_topology_throughput(binary, url, cluster, spread, jobs, workdir, "cluster")))
        cluster.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait()
    return rows, rq_tls


def rq_throughput(r, jobs):
    r.flushall()
    queue = Queue("bench", connection=r)
    with r.pipeline() as pipe:
        for _ in range(jobs):
            queue.enqueue(rq_jobs.noop, pipeline=pipe)
        pipe.execute()
    worker = SimpleWorker([queue], connection=r)
    started = time.time()
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.time() - started
    done = queue.finished_job_registry.count
    if done < jobs:
        raise SystemExit(f"RQ finished only {done} of {jobs} jobs")
    return jobs / elapsed


def rq_latency(r, port, jobs):
    """RQ's worker in a child process (it blocks on its queue); jobs pushed one at a time."""
    r.flushall()
    worker = subprocess.Popen([sys.executable, "-c", f"""
import sys; sys.path.insert(0, {HERE!r})
import redis, rq_jobs
from rq import Queue, SimpleWorker
r = redis.Redis(port={port})
SimpleWorker([Queue('lat', connection=r)], connection=r).work(max_jobs={jobs}, logging_level='WARNING')
"""])
    time.sleep(1.5)
    queue = Queue("lat", connection=r)
    for _ in range(jobs):
        queue.enqueue(rq_jobs.record_start, time.time(), "rq:latencies", port)
        time.sleep(0.01)
    wait_for(lambda: r.llen("rq:latencies") >= jobs, 60)
    worker.wait(timeout=30)
    return [float(v) for v in r.lrange("rq:latencies", 0, -1)]


def print_costs(runs):
    """The cost model: one row per run, then the commands per job by name."""
    print(f"{'cost per no-op job':36}{'jobs/s':>9}{'RSS MB':>8}{'commands':>10}{'Redis CPU µs':>14}{'in scripts':>12}{'worker CPU µs':>15}"
          f"{'round trips':>13}{'bytes in':>10}{'bytes out':>10}")
    for label, rate, peak, cost in runs:
        print(f"{label:36}{rate:>9.0f}{peak:>8.1f}{cost.commands:>10.1f}{cost.cpu_us:>14.1f}{cost.script_us:>12.1f}{cost.worker_cpu_us:>15.1f}"
              f"{cost.round_trips:>13.2f}{cost.bytes_in:>10.0f}{cost.bytes_out:>10.0f}")
    names = sorted({name for *_, cost in runs for name in cost.by_command}, key=lambda n: -max(c.by_command.get(n, 0) for *_, c in runs))
    print()
    print(f"{'commands per job, by name (µs)':36}" + "".join(f"{label[-24:]:>26}" for label, *_ in runs))
    for name in names:
        print(f"{name:36}" + "".join(f"{cost.by_command.get(name, 0):>18.2f} ({cost.time_by_command.get(name, 0):>5.1f})" for *_, cost in runs))


def median_run(runs):
    ordered = sorted(runs, key=lambda run: run[0])
    return ordered[len(ordered) // 2]


def main():
    parser = argparse.ArgumentParser(description="MediaWorker's queue against Python RQ, with a cost model per job.")
    parser.add_argument("binary")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each throughput row (alternating with the baseline's); the median is shown")
    parser.add_argument("--baseline", metavar="REF", help="also build and run this git revision, alternating with this tree's binary")
    parser.add_argument("--growth-sizes", default="1000,100000,1000000", help="jobs waiting (and the largest, finished) for the growth table")
    parser.add_argument("--workers", default="1,4,16,64", help="worker process counts for the workers table")
    parser.add_argument("--transcode-source", default=os.path.join(HERE, "..", "..", "Fixtures", ".cache", "h264-aac-1080p30-10s.mp4"))
    parser.add_argument("--transcodes", type=int, default=2)
    parser.add_argument("--skip-topologies", action="store_true", help="leave out TLS and the cluster")
    parser.add_argument("--skip-growth", action="store_true", help="leave out the growth table")
    parser.add_argument("--skip-workers", action="store_true", help="leave out the workers table")
    parser.add_argument("--skip-transcode", action="store_true", help="leave out a transcode's queue traffic")
    parser.add_argument("--skip-latency", action="store_true", help="leave out enqueue-to-start latency")
    parser.add_argument("--skip-throughput", action="store_true", help="leave out the throughput runs against RQ (and the cost table)")
    parser.add_argument("--split-chunks", default="50,500", help="split transcodes of these many 6 s chunks (per-part cost)")
    parser.add_argument("--skip-split", action="store_true", help="leave out the split job's cost per part")
    parser.add_argument("--skip-tracing", action="store_true", help="leave out tracing on against off")
    args = parser.parse_args()
    binaries = [("this tree", args.binary)]
    if args.baseline:
        binaries.append(build_baseline(args.baseline))

    workdir = tempfile.mkdtemp(prefix="mw-bench-queue-")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", workdir], stdout=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        wait_for(lambda: _ping(r), 10, 0.05)
        print(f"queue benchmark: {args.jobs} no-op jobs per throughput run, {args.latency_jobs} jobs for latency, "
              f"redis-server on 127.0.0.1:{port}, {os.cpu_count()} cores", flush=True)
        if not args.skip_throughput:
            results = {(label, c): [] for label, _ in binaries for c in (1, 8)}
            for repeat in range(args.repeat):
                for index, (label, binary) in enumerate(binaries):
                    for c in (1, 8):
                        rate, peak, cost = ours_throughput(r, binary, port, c, args.jobs, workdir, name=f"b{index}-c{c}-{repeat}")
                        results[(label, c)].append((rate, peak, cost))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            rq_rate = rq_throughput(r, args.jobs)
            rq_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

            runs = [(f"{label}, concurrency {c}", *median_run(results[(label, c)])) for label, _ in binaries for c in (1, 8)]
            print()
            if args.repeat > 1:
                for (label, c), values in results.items():
                    print(f"{label}, concurrency {c}: " + ", ".join(f"{rate:.0f}" for rate, _, _ in values) + " jobs/s")
                print()
            print_costs(runs)
            print()
            print(f"{'RQ SimpleWorker (burst)':36}{rq_rate:>9.0f}{rq_peak:>8.1f}  (benchmark process, before: {before / 1024:.1f})")
            ours_c1, ours_c8 = runs[0][1], runs[1][1]
            print()
            print(f"ratio throughput (ours c8 / RQ): {ours_c8 / rq_rate:.1f}x   (aim: >= 20x: {'met' if ours_c8 / rq_rate >= 20 else 'NOT met'})")
            print(f"ratio throughput (ours c1 / RQ): {ours_c1 / rq_rate:.1f}x   (aim: >= 10x: {'met' if ours_c1 / rq_rate >= 10 else 'NOT met'})")
            if args.baseline:
                base_c1, base_c8 = runs[2], runs[3]
                print(f"ratio against {binaries[1][0]}: throughput c8 {ours_c8 / base_c8[1]:.2f}x (aim >= 1.5x), c1 {ours_c1 / base_c1[1]:.2f}x; "
                      f"Redis CPU per job c8 {runs[1][3].cpu_us / base_c8[3].cpu_us:.2f}x (aim <= 0.5x), "
                      f"commands per job c8 {runs[1][3].commands / base_c8[3].commands:.2f}x")
        if not args.skip_latency:
            our_latency = ours_latency(r, args.binary, port, args.latency_jobs, workdir)
            rq_lat = rq_latency(r, port, args.latency_jobs)
            print()
            print(f"{'enqueue-to-start latency':34}{'p50 ms':>10}{'p99 ms':>14}")
            print(f"{'MediaWorker':34}{percentile(our_latency, 50) * 1000:>10.2f}{percentile(our_latency, 99) * 1000:>14.2f}")
            print(f"{'RQ SimpleWorker':34}{percentile(rq_lat, 50) * 1000:>10.2f}{percentile(rq_lat, 99) * 1000:>14.2f}")
            print(f"ratio latency p50 (RQ / ours): {percentile(rq_lat, 50) / percentile(our_latency, 50):.1f}x")
        if not args.skip_tracing:
            rates, peaks, spans, cpu = tracing_rows(r, binaries, port, args.jobs, workdir, max(args.repeat, 3))
            labels = {"off": "off", "on": "on (link, the default): OTLP/HTTP", "child": "on (MW_TRACE_PRODUCER_SPAN=child)"}
            median = statistics.median
            for label, _ in binaries:
                print()
                print(f"{'tracing, ' + label + ' (one worker, c8)':40}{'jobs/s (runs)':>48}{'median':>9}{'CPU µs/job':>12}{'peak RSS MB':>13}")
                for mode in ("off", "on", "child"):
                    key = (label, mode)
                    print(f"{labels[mode]:40}{', '.join(f'{v:.0f}' for v in rates[key]):>48}{median(rates[key]):>9.0f}"
                          f"{median(cpu[key]):>12.1f}{max(peaks[key]):>13.1f}")
                ratio = median(rates[(label, "on")]) / median(rates[(label, "off")])
                child = median(rates[(label, "child")]) / median(rates[(label, "off")])
                print(f"ratio throughput (tracing on / off): {ratio:.3f}x   (aim: >= 0.95x: {'met' if ratio >= 0.95 else 'NOT met'}); "
                      f"child mode {child:.3f}x")
                added = median(cpu[(label, "on")]) - median(cpu[(label, "off")])
                print(f"worker CPU per traced job: {added:+.1f} µs ({median(cpu[(label, 'on')]) / median(cpu[(label, 'off')]):.3f}x off's "
                      f"{median(cpu[(label, 'off')]):.1f} µs); child mode {median(cpu[(label, 'child')]) - median(cpu[(label, 'off')]):+.1f} µs")
            print(f"spans received per traced run: {', '.join(str(s) for s in spans)} (one per job: {args.jobs})")
        if not args.skip_transcode:
            if not os.path.exists(args.transcode_source):
                raise SystemExit(f"no {args.transcode_source}: run Fixtures/generate.sh (or pass --skip-transcode)")
            print()
            print(f"{'queue traffic per transcode':36}{'s/job':>9}{'commands':>10}{'script µs':>11}{'round trips':>13}{'bytes in':>10}{'bytes out':>10}")
            for label, binary in binaries:
                cost, seconds = transcode_cost(r, binary, port, workdir, args.transcode_source, args.transcodes)
                # (Redis's own CPU over a job of seconds is mostly its idle timers: script time is the job's.)
                print(f"{label:36}{seconds:>9.1f}{cost.commands:>10.1f}{cost.script_us:>11.0f}{cost.round_trips:>13.2f}"
                      f"{cost.bytes_in:>10.0f}{cost.bytes_out:>10.0f}")
                print("    by name: " + ", ".join(f"{name} {calls:.1f}" for name, calls in sorted(cost.by_command.items(), key=lambda kv: -kv[1])[:12]))
        if not args.skip_split:
            rows = [split_cost(r, args.binary, port, workdir, int(v)) for v in args.split_chunks.split(",") if v]
            print()
            print(f"{'split transcode, 6 s chunks (one worker, c4)':46}{'s':>7}{'commands/part':>15}{'script µs/part':>16}"
                  f"{'record B/part':>15}{'payload B/part':>16}{'Redis in/out B/part':>21}")
            for row in rows:
                print(f"{row['chunks']:>5} chunks ({row['parts']} parts){'':26}{row['seconds']:>7.1f}{row['commands']:>15.1f}{row['script_us']:>16.1f}"
                      f"{row['record_bytes']:>15.0f}{row['payload_bytes']:>16.0f}{row['in']:>10.0f}/{row['out']:<10.0f}")
        if not args.skip_growth:
            sizes = [int(v) for v in args.growth_sizes.split(",") if v]
            measured = min(args.jobs, 10000)
            rows = growth_rows(r, args.binary, port, sizes, measured, workdir)
            print()
            print(f"growth: {measured} jobs enqueued (low priority, beside the waiting ones) and {measured} run (high priority, one worker at c8)")
            print(f"{'jobs in Redis':44}{'enqueue/s':>11}{'vs empty':>9}{'run/s':>9}{'vs empty':>9}{'CPU µs/job':>12}{'bytes/job':>11}")
            empty_enqueue, empty_run = rows[0][2], rows[0][3]
            for what, count, enqueue, run, per_job, cost in rows:
                label = "none" if count == 0 else f"{count:,} {what}"
                enqueue_text = f"{enqueue:>11.0f}{empty_enqueue / enqueue:>8.2f}x" if enqueue else " " * 20
                per_job_text = f"{per_job:>11.0f}" if count else ""
                print(f"{label:44}{enqueue_text}{run:>9.0f}{empty_run / run:>8.2f}x{cost.cpu_us:>12.1f}{per_job_text}")
            print("(vs empty: how many times slower than with an empty queue; aim <= 1.2x. bytes/job: Redis used_memory added per job held)")
        if not args.skip_workers:
            counts = [int(v) for v in args.workers.split(",") if v]
            rows = workers_rows(r, args.binary, port, counts, args.jobs, workdir)
            print()
            print(f"{'worker processes (concurrency 2 each)':40}{'jobs/s':>9}{'vs one':>8}{'commands':>10}{'Redis CPU µs':>14}{'peak RSS MB, all':>18}")
            for count, rate, cost, peak in rows:
                print(f"{count:<40}{rate:>9.0f}{rate / rows[0][1]:>7.2f}x{cost.commands:>10.1f}{cost.cpu_us:>14.1f}{peak:>18.0f}")
        if not args.skip_topologies:
            rows, rq_tls = topology_rows(args.binary, args.jobs, workdir)
            print()
            print(f"{'topology (one worker, c8, 3 queues)':44}{'jobs/s':>10}{'peak RSS MB':>14}{'vs plain':>10}")
            base = rows[0][1]
            for label, rate, peak in rows:
                print(f"{label:44}{rate:>10.0f}{peak:>14.1f}{rate / base:>9.2f}x")
            print(f"{'RQ SimpleWorker over TLS (burst)':44}{rq_tls:>10.0f}")
            print()
            print(f"ratio throughput over TLS (ours c8 / RQ): {rows[1][1] / rq_tls:.1f}x")
            print(f"TLS cost: {(1 - rows[1][1] / base) * 100:.0f} % of plain throughput; cluster: {rows[2][1] / base:.2f}x plain")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _ping(r):
    try:
        return r.ping()
    except redis.exceptions.ConnectionError:
        return False


if __name__ == "__main__":
    main()
