"""Media benchmark: MediaWorker's shim against the ffmpeg CLI doing the same work on the
same source, side by side in one run. Prints median wall times, ratios and peak memory.

Covered: (c) keyframes — ours vs `ffmpeg -skip_frame nokey`; (d) 10 thumbnails — ours in
one call vs ten `ffmpeg -ss` runs. Both write full-size JPEGs at the same quality.

usage: bench.py MEDIA_WORKER_BINARY SOURCE [--repeat N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def run(command):
    """Runs a command; returns (seconds, peak RSS in MB) measured by wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}\n{process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def measure(label, commands_for_run, repeat):
    """commands_for_run(directory) -> list of commands run one after another for one measurement."""
    times, peaks = [], []
    for _ in range(repeat):
        directory = tempfile.mkdtemp(prefix="mw-bench-media-")
        total, peak = 0.0, 0.0
        for command in commands_for_run(directory):
            seconds, rss = run(command)
            total += seconds
            peak = max(peak, rss)
        count = len(os.listdir(directory))
        shutil.rmtree(directory)
        times.append(total)
        peaks.append(peak)
    return {"label": label, "seconds": statistics.median(times), "peak_mb": max(peaks), "images": count}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("source")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    duration = float(subprocess.check_output(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", args.source]).decode())
    times = [duration * (i + 0.5) / 10 for i in range(10)]

    rows = []
    ours = measure("keyframes: media-worker", lambda d: [[args.binary, "keyframes", args.source, "--out", d, "--quality", "3"]], args.repeat)
    theirs = measure("keyframes: ffmpeg -skip_frame nokey", lambda d: [[
        ffmpeg, "-v", "error", "-skip_frame", "nokey", "-i", args.source, "-fps_mode", "passthrough", "-q:v", "3",
        os.path.join(d, "k%04d.jpg")]], args.repeat)
    rows.append((ours, theirs, 1.0))
    ours = measure("10 thumbnails: media-worker", lambda d: [[
        args.binary, "thumbnails", args.source, "--out", d, "--quality", "3", "--at", ",".join(f"{t:.3f}" for t in times)]], args.repeat)
    theirs = measure("10 thumbnails: 10 x ffmpeg -ss", lambda d: [[
        ffmpeg, "-v", "error", "-ss", f"{t:.3f}", "-i", args.source, "-frames:v", "1", "-q:v", "3",
        os.path.join(d, f"t{i:02d}.jpg")] for i, t in enumerate(times)], args.repeat)
    rows.append((ours, theirs, 0.5))

    print(f"media benchmark on {os.path.basename(args.source)} ({duration:.1f} s), median of {args.repeat}, {os.cpu_count()} cores")
    print(f"{'':40}{'seconds':>10}{'peak RSS MB':>14}{'images':>8}")
    for ours, theirs, aim in rows:
        for row in (ours, theirs):
            print(f"{row['label']:40}{row['seconds']:>10.3f}{row['peak_mb']:>14.1f}{row['images']:>8}")
        ratio = ours["seconds"] / theirs["seconds"]
        print(f"{'  ratio ours / ffmpeg':40}{ratio:>10.2f}   aim <= {aim}: {'met' if ratio <= aim else 'NOT met'}")


if __name__ == "__main__":
    main()
