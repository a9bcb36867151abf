"""Queue benchmark: MediaWorker's queue against Python RQ, side by side on one redis-server.

Measures no-op job throughput of one worker process (ours at concurrency 1 and 8; RQ's
SimpleWorker in burst mode, which runs jobs in its own process without forking) and
enqueue-to-start latency (p50/p99) with jobs pushed one at a time to an idle worker.
Then what the Redis topology costs ours (one worker, concurrency 8, three queues): one plain
server, the same over TLS (rediss://, and RQ over TLS beside it), and a 3-master Redis Cluster
with each queue on its own master (redis+cluster://).
Prints the figures, the ratios and each worker's peak memory (VmHWM / ru_maxrss).

usage: bench.py MEDIA_WORKER_BINARY [--jobs N] [--latency-jobs N] [--skip-topologies]
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

    def stop(self):
        peak = peak_rss_mb(self.process.pid)
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        return peak


def ours_throughput(r, binary, port, concurrency, jobs, workdir):
    r.flushall()
    worker = OurWorker(binary, port, concurrency, workdir)
    worker.wait_ready()
    payloads = [json.dumps({"id": f"t{i}", "type": "noop"}) for i in range(jobs)]
    started = time.time()
    pipe = r.pipeline(transaction=False)
    for chunk in range(0, jobs, 1000):
        pipe.rpush("mw:{default}:inbox", *payloads[chunk:chunk + 1000])
    pipe.execute()
    if not wait_for(lambda: r.zcard("mw:{default}:completed") >= jobs, 300, 0.002):
        raise SystemExit(f"only {r.zcard('mw:{default}:completed')} of {jobs} jobs completed")
    elapsed = time.time() - started
    return jobs / elapsed, worker.stop()


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--latency-jobs", type=int, default=300)
    parser.add_argument("--skip-topologies", action="store_true", help="only the single-server rows against RQ")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="mw-bench-queue-")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", workdir], stdout=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        wait_for(lambda: _ping(r), 10, 0.05)
        print(f"queue benchmark: {args.jobs} no-op jobs per throughput run, {args.latency_jobs} jobs for latency, "
              f"redis-server on 127.0.0.1:{port}, {os.cpu_count()} cores")
        ours_c1, peak_c1 = ours_throughput(r, args.binary, port, 1, args.jobs, workdir)
        ours_c8, peak_c8 = ours_throughput(r, args.binary, port, 8, args.jobs, workdir)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rq_rate = rq_throughput(r, args.jobs)
        rq_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        our_latency = ours_latency(r, args.binary, port, args.latency_jobs, workdir)
        rq_lat = rq_latency(r, port, args.latency_jobs)

        print()
        print(f"{'':34}{'jobs/s':>10}{'peak RSS MB':>14}")
        print(f"{'MediaWorker, concurrency 1':34}{ours_c1:>10.0f}{peak_c1:>14.1f}")
        print(f"{'MediaWorker, concurrency 8':34}{ours_c8:>10.0f}{peak_c8:>14.1f}")
        print(f"{'RQ SimpleWorker (burst)':34}{rq_rate:>10.0f}{rq_peak:>14.1f}  (benchmark process, before: {before / 1024:.1f})")
        print()
        print(f"{'enqueue-to-start latency':34}{'p50 ms':>10}{'p99 ms':>14}")
        print(f"{'MediaWorker':34}{percentile(our_latency, 50) * 1000:>10.2f}{percentile(our_latency, 99) * 1000:>14.2f}")
        print(f"{'RQ SimpleWorker':34}{percentile(rq_lat, 50) * 1000:>10.2f}{percentile(rq_lat, 99) * 1000:>14.2f}")
        print()
        print(f"ratio throughput (ours c8 / RQ): {ours_c8 / rq_rate:.1f}x   (aim: >= 20x, and >= 5000 jobs/s: "
              f"{'met' if ours_c8 >= 5000 and ours_c8 / rq_rate >= 20 else 'NOT met'})")
        print(f"ratio throughput (ours c1 / RQ): {ours_c1 / rq_rate:.1f}x")
        print(f"ratio latency p50 (RQ / ours): {percentile(rq_lat, 50) / percentile(our_latency, 50):.1f}x")
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
