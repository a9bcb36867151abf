"""Publishing a package: serial uploads against parallel ones, and against boto3's transfer manager.

The package has the layout and sizes of a 10-minute default ladder (1080p 6 Mb/s, 720p 3 Mb/s,
540p 2 Mb/s, 360p 365 kb/s, 234p 145 kb/s, audio 128 kb/s) cut into about 2.4 s segments so that
it holds --objects objects (1,500 by default, about 870 MB): init segments, media segments,
media and I-frame playlists, a master. Contents are random (incompressible). moto_server runs
with signatures checked (the key made through its IAM API), as in the tests.

Requests reach moto through a link that adds --rtt-ms to each request's round trip (50 ms by
default; AWS quotes 100-200 ms of first-byte latency for small S3 objects, so this is on the
kind side), as every real S3 has; without it (--rtt-ms 0) the single-threaded moto on 2
shared cores, not the client, sets the pace, and parallel uploads only match its throughput. Each run uploads to a fresh prefix; the median of --repeat runs is
reported with the peak RSS of the uploading process (wait4).

A fourth row runs the 8-in-flight upload with no static keys: temporary keys of a moto role
from an IMDSv2 stand-in (scripts/test/credential_endpoints.py) that live --key-lifetime seconds
(10 by default), so the upload refreshes them several times; its ratio to the static-key row
should be noise.

usage: bench.py MEDIA_WORKER_BINARY [--objects 1500] [--repeat 3] [--rtt-ms 50] [--key-lifetime 10]
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

LADDER = [("1080p", 6_000_000), ("720p", 3_000_000), ("540p", 2_000_000), ("360p", 365_000), ("234p", 145_000), ("audio", 128_000)]
MINUTES = 10


# The alternative: what `aws s3 cp --recursive` does (boto3, 10 threads), playlists last too.
BOTO3_UPLOADER = r"""
import os, sys, boto3
from concurrent.futures import ThreadPoolExecutor
folder, prefix = sys.argv[1], sys.argv[2]
bucket, _, key_prefix = prefix[len("s3://"):].partition("/")
s3 = boto3.client("s3")
files = [os.path.relpath(os.path.join(d, f), folder) for d, _, names in os.walk(folder) for f in names]
def put(relative):
    s3.upload_file(os.path.join(folder, relative), bucket, key_prefix + relative)
with ThreadPoolExecutor(max_workers=10) as pool:
    list(pool.map(put, [f for f in files if not f.endswith(".m3u8")]))
with ThreadPoolExecutor(max_workers=10) as pool:
    list(pool.map(put, [f for f in files if f.endswith(".m3u8")]))
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_package(directory, objects):
    """A package of `objects` files with the ladder's sizes; returns its byte count."""
    per_rendition = (objects - 1) // len(LADDER) - 3  # init, index, iframes
    segment_s = MINUTES * 60 / per_rendition
    total = 0
    rng = open("/dev/urandom", "rb")
    master = ["#EXTM3U"]
    for name, bitrate in LADDER:
        folder = os.path.join(directory, name)
        os.makedirs(folder)
        size = int(bitrate / 8 * segment_s)
        lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{int(segment_s) + 1}", '#EXT-X-MAP:URI="init.mp4"']
        with open(os.path.join(folder, "init.mp4"), "wb") as handle:
            handle.write(rng.read(800))
        for index in range(per_rendition):
            with open(os.path.join(folder, f"seg-{index:05d}.m4s"), "wb") as handle:
                handle.write(rng.read(size))
            total += size
            lines += [f"#EXTINF:{segment_s:.3f},", f"seg-{index:05d}.m4s"]
        lines.append("#EXT-X-ENDLIST")
        with open(os.path.join(folder, "index.m3u8"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
        with open(os.path.join(folder, "iframes.m3u8"), "w") as handle:
            handle.write("#EXTM3U\n#EXT-X-I-FRAMES-ONLY\n#EXT-X-ENDLIST\n")
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bitrate}", f"{name}/index.m3u8"]
    with open(os.path.join(directory, "master.m3u8"), "w") as handle:
        handle.write("\n".join(master) + "\n")
    count = sum(len(files) for _, _, files in os.walk(directory))
    return count, total


def timed(command, env):
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{command[0]} failed ({status}): {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--objects", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=50)
    parser.add_argument("--key-lifetime", type=float, default=10, help="seconds the temporary keys of the refreshing row live")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="mw-bench-upload-")
    moto = link = endpoints = None
    try:
        package = os.path.join(directory, "package")
        os.makedirs(package)
        count, size = make_package(package, args.objects)
        port = free_port()
        venv = os.path.dirname(sys.executable)
        moto = subprocess.Popen([os.path.join(venv, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3"))
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        boot = subprocess.run([sys.executable, "scripts/test/moto_bootstrap.py", endpoint, "media"], capture_output=True, text=True, check=True)
        if args.rtt_ms > 0:
            link_port = free_port()
            link = subprocess.Popen([sys.executable, "Benchmarks/upload/latency_link.py", str(link_port), str(port), str(args.rtt_ms / 2)])
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", link_port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            endpoint = f"http://127.0.0.1:{link_port}"
        key = json.loads(boot.stdout.strip().splitlines()[-1])
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key["access_key_id"], AWS_SECRET_ACCESS_KEY=key["secret_access_key"],
                   AWS_REGION=key["region"], AWS_DEFAULT_REGION=key["region"], AWS_ENDPOINT_URL_S3=endpoint, AWS_ENDPOINT_URL=endpoint,
                   MW_S3_BUCKETS="media", MW_STORAGE_ROOT=os.path.join(directory, "root"), MW_TEMP_DIR=os.path.join(directory, "tmp"))
        # Temporary keys from an IMDSv2 stand-in, refreshed as they near their expiry.
        endpoints_port = free_port()
        endpoints = subprocess.Popen([sys.executable, "scripts/test/credential_endpoints.py", str(endpoints_port), f"http://127.0.0.1:{port}",
                                      key["access_key_id"], key["secret_access_key"], key["role_arn"], "--lifetime", str(args.key_lifetime)],
                                     stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", endpoints_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        temporary_env = {name: value for name, value in env.items() if name not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        temporary_env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{endpoints_port}"
        refreshing = f"media-worker, 8 in flight, keys refreshed every ~{args.key_lifetime * 0.8:g} s"
        rows = [
            ("media-worker, 1 upload at a time", lambda prefix: [args.binary, "storage", "put-tree", package, prefix, "--concurrency", "1"], env),
            ("media-worker, 8 in flight (MW_UPLOAD_CONCURRENCY)", lambda prefix: [args.binary, "storage", "put-tree", package, prefix, "--concurrency", "8"], env),
            ("boto3 upload_file, 10 threads (as aws s3 cp)", lambda prefix: [os.path.join(venv, "python"), "-c", BOTO3_UPLOADER, package, prefix], env),
            (refreshing, lambda prefix: [args.binary, "storage", "put-tree", package, prefix, "--concurrency", "8"], temporary_env),
        ]
        results = {}
        run = 0
        for _ in range(args.repeat):
            for label, command, row_env in rows:
                run += 1
                seconds, peak = timed(command(f"s3://media/run-{run}/"), row_env)
                results.setdefault(label, []).append((seconds, peak))
        print(f"upload: {count} objects, {size / 1e6:.0f} MB, to moto_server (signatures checked) over a link of {args.rtt_ms:g} ms round trip, "
              f"median of {args.repeat}")
        print(f"  {'':52} {'seconds':>8} {'MB/s':>7} {'peak RSS':>9} {'ratio':>7}")
        serial = statistics.median(s for s, _ in results[rows[0][0]])
        for label, _, _ in rows:
            seconds = statistics.median(s for s, _ in results[label])
            peak = max(p for _, p in results[label])
            print(f"  {label:52} {seconds:8.2f} {size / 1e6 / seconds:7.1f} {peak:7.0f} MB {serial / seconds:6.2f}x")
        parallel = statistics.median(s for s, _ in results[rows[1][0]])
        print(f"  parallel against serial: {serial / parallel:.2f}x faster (aim >= 4x)")
        with urllib.request.urlopen(f"http://127.0.0.1:{endpoints_port}/stats", timeout=10) as answer:
            stats = json.loads(answer.read())
        temporary = statistics.median(s for s, _ in results[refreshing])
        print(f"  refreshing temporary keys against static keys: {temporary / parallel:.2f}x the time "
              f"({stats.get('imds', 0)} sets of keys fetched over {args.repeat} runs; aim: noise)")
    finally:
        for process in (endpoints, link, moto):
            if process:
                process.terminate()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
