"""Dashboard benchmark: how fast its pages answer with 100,000 jobs in a queue.

One worker runs N no-op jobs (default 100,000; pushed by redis-py, as any producer would) on a
private redis-server; then a dashboard serves the pages an operator opens: the overview, the
first, a middle and the last page of the completed jobs, a search by file_id and by movie id,
one job's page, the dead letters and the workers. Each page is fetched R times (default 20)
and its median and p95 latency printed, with the dashboard's peak memory. The alternative an
operator has without it is the CLI (`media-worker status <id>`, a process per question): its
median is printed beside the job page's.

usage: bench.py MEDIA_WORKER_BINARY [--jobs N] [--repeat R]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return True
        except Exception:
            pass
        time.sleep(interval)
    return False


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * (len(times) - 1) + 0.5))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mw-bench-dashboard-")
    redis_port, http_port, dash_port = free_port(), free_port(), free_port()
    processes = []
    try:
        processes.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                           "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL))
        r = redis.Redis(port=redis_port)
        wait_for(lambda: r.ping(), 10)
        url = f"redis://127.0.0.1:{redis_port}/0"
        env = dict(os.environ, MW_REDIS_URL=url, MW_STORAGE_ROOT=work + "/storage", MW_TEMP_DIR=work + "/tmp",
                   MW_HTTP_ADDR=f"127.0.0.1:{http_port}", MW_CONCURRENCY="8", MW_LOG_LEVEL="warning", MW_RETENTION_S="86400")
        worker = subprocess.Popen([args.binary, "run"], env=env, stdout=subprocess.DEVNULL, stderr=open(work + "/worker.log", "w"))
        processes.append(worker)
        started = time.time()
        pipe = r.pipeline(transaction=False)
        for index in range(args.jobs):
            job = {"id": f"job-{index:06d}", "type": "noop", "file_id": f"file-{index:06d}", "movie_id": f"movie-{index % 1000}"}
            if index % 1000 == 999:
                job.update(max_attempts=1, options={"fail_with": {"code": "DRILL"}})
            pipe.rpush("mw:{default}:inbox", json.dumps(job))
            if index % 1000 == 999:
                pipe.execute()
        pipe.execute()
        if not wait_for(lambda: r.zcard("mw:{default}:completed") + r.zcard("mw:{default}:dead") >= args.jobs, 1800, 0.5):
            sys.exit("the worker did not finish the jobs")
        print(f"{args.jobs} jobs run in {time.time() - started:.1f} s; redis memory {r.info('memory')['used_memory'] / 2**20:.0f} MB")

        dashboard = subprocess.Popen([args.binary, "dashboard", "--addr", f"127.0.0.1:{dash_port}"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(work + "/dashboard.log", "w"))
        processes.append(dashboard)
        base = f"http://127.0.0.1:{dash_port}"
        wait_for(lambda: urllib.request.urlopen(base + "/login").status == 200, 20)
        last = (args.jobs - args.jobs // 1000 + 49) // 50
        pages = [
            ("overview", "/"),
            ("completed, page 1", "/jobs?queue=default&state=completed"),
            ("completed, middle page", f"/jobs?queue=default&state=completed&page={last // 2}"),
            ("completed, last page", f"/jobs?queue=default&state=completed&page={last}"),
            ("search by file_id", "/jobs?queue=default&q=file-054321"),
            ("search by movie id (100 jobs)", "/jobs?queue=default&q=movie-321"),
            ("job page", "/job?queue=default&id=job-054321"),
            ("dead letters", "/dead?queue=default"),
            ("workers", "/workers"),
        ]
        print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'bytes':>8}")
        for name, path in pages:
            body = urllib.request.urlopen(base + path).read()
            median, p95 = timed(lambda: urllib.request.urlopen(base + path).read(), args.repeat)
            print(f"{name:34} {median:10.1f} {p95:8.1f} {len(body):8d}")
        cli, _ = timed(lambda: subprocess.run([args.binary, "status", "job-054321"], env=env, capture_output=True, check=True), 5)
        job_page, _ = timed(lambda: urllib.request.urlopen(base + "/job?queue=default&id=job-054321").read(), args.repeat)
        print(f"`media-worker status` (CLI) {cli:.1f} ms vs the job page {job_page:.1f} ms: {cli / job_page:.1f}x")
        print(f"dashboard peak RSS {peak_rss_mb(dashboard.pid):.0f} MB; worker peak RSS {peak_rss_mb(worker.pid):.0f} MB")
    finally:
        for process in processes:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
