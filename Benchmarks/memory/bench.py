"""Peak memory of the worker under big jobs, measured by wait4 on `media-worker process`.

(1) transcode of a large H.264/AAC input (default 2 GB: the 1080p fixture joined end to end by
    stream copy) from S3 to S3 with stream-copy packaging: the download and the uploads are
    streamed, so the worker's peak RSS stays under 300 MB whatever the input's size;
(2) a 10-minute 1080p source through the default ladder (1080/720/540/360/234) to HLS: the
    one-pass ladder's frames in flight bound the memory, which stays under 600 MB.
S3 is a local moto_server (signatures not checked: this measures memory, not auth).

usage: bench.py MEDIA_WORKER_BINARY [--size-gb 2] [--ladder-minutes 10]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from boto3.s3.transfer import TransferConfig

FIXTURE = "Fixtures/.cache/h264-aac-1080p30-10s.mp4"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def joined_source(directory, target_bytes):
    """The 10 s fixture repeated by stream copy until the file reaches `target_bytes`."""
    copies = max(1, int(target_bytes / os.path.getsize(FIXTURE)) + 1)
    listing = os.path.join(directory, "list.txt")
    with open(listing, "w") as handle:
        handle.write("ffconcat version 1.0\n" + f"file '{os.path.abspath(FIXTURE)}'\n" * copies)
    output = os.path.join(directory, f"joined-{copies}.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", listing, "-c", "copy",
                    "-movflags", "+faststart", output], check=True)
    return output


def run_job(binary, job, directory, env):
    path = os.path.join(directory, f"job-{time.monotonic_ns()}.json")
    with open(path, "w") as handle:
        json.dump(job, handle)
    started = time.perf_counter()
    process = subprocess.Popen([binary, "process", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stdout = process.stdout.read().decode()
    if status != 0:
        raise SystemExit(f"job failed ({status}): {stdout[-2000:]}\n{process.stderr.read().decode()[-2000:]}")
    completed = json.loads(stdout.strip().splitlines()[-1])
    return seconds, usage.ru_maxrss / 1024, completed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--size-gb", type=float, default=2)
    parser.add_argument("--ladder-minutes", type=float, default=10)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="mw-bench-memory-")
    moto = None
    results = []
    try:
        # (1) S3 to S3, stream copy.
        source = joined_source(directory, args.size_gb * 1e9)
        size = os.path.getsize(source)
        port = free_port()
        moto = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
        for _ in range(100):
            try:
                s3.create_bucket(Bucket="bench")
                break
            except Exception:
                time.sleep(0.1)
        s3.upload_file(source, "bench", "in/big.mp4", Config=TransferConfig(multipart_chunksize=64 << 20))
        os.remove(source)
        env = dict(os.environ, AWS_ENDPOINT_URL_S3=endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY="bench", MW_S3_BUCKETS="bench", MW_TEMP_DIR=os.path.join(directory, "tmp"),
                   MW_STORAGE_ROOT=directory, MW_MAX_INPUT_BYTES=str(64 << 30))
        job = {"type": "transcode", "input": {"url": "s3://bench/in/big.mp4"}, "output": {"url": "s3://bench/out/"},
               "options": {"renditions": [1080], "packaging": "copy", "thumbnails": 2, "storyboard": False}}
        seconds, peak, completed = run_job(args.binary, job, directory, env)
        copied = completed.get("data", {}).get("stream_copied")
        results.append((f"transcode {size / 1e9:.2f} GB S3 -> S3, stream copy", seconds, peak, 300, copied is True))
        moto.terminate()
        moto.wait()
        moto = None

        # (2) A long 1080p source through the default ladder, local storage.
        long_source = joined_source(directory, os.path.getsize(FIXTURE) * args.ladder_minutes * 6 - 1)
        os.makedirs(os.path.join(directory, "raw"), exist_ok=True)
        shutil.move(long_source, os.path.join(directory, "raw", "long.mp4"))
        env = dict(os.environ, MW_TEMP_DIR=os.path.join(directory, "tmp"), MW_STORAGE_ROOT=directory)
        job = {"type": "transcode", "input": {"url": f"file://{directory}/raw/long.mp4"}, "output": {"url": f"file://{directory}/out/"},
               "options": {"packaging": "encode", "storyboard": False}}
        seconds, peak, completed = run_job(args.binary, job, directory, env)
        renditions = len(completed.get("data", {}).get("renditions", []))
        results.append((f"{args.ladder_minutes:g}-minute 1080p ladder ({renditions} renditions) to HLS", seconds, peak, 600, renditions >= 5))

        print("memory: peak RSS of the worker process (wait4)")
        print(f"  {'':58} {'wall s':>8} {'peak MB':>8} {'limit':>6}")
        failed = False
        for label, seconds, peak, limit, ok in results:
            verdict = "ok" if ok and peak < limit else "OVER" if ok else "WRONG RESULT"
            failed |= verdict != "ok"
            print(f"  {label:58} {seconds:8.1f} {peak:8.0f} {limit:6d}  {verdict}")
        sys.exit(1 if failed else 0)
    finally:
        if moto:
            moto.terminate()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
