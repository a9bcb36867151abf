"""Media benchmark: MediaWorker's shim against the ffmpeg CLI doing the same work on the
same source, side by side in one run. Prints median wall times, ratios and peak memory.

Covered:
 (a) a 4-rung HLS ladder (1080p, 720p, 360p, 234p; fMP4, 6 s segments, audio once): ours in one
     pass vs one ffmpeg run with `split` and vs four separate ffmpeg runs (one per rung, as
     PeerTube does); the same x264 preset, capped CRF, 2 s GOP forced by time, no scene cuts;
 (b) HLS by stream copy: ours vs `ffmpeg -c copy -f hls`;
 (c) keyframes: ours vs `ffmpeg -skip_frame nokey`;
 (d) 10 thumbnails: ours in one call vs ten `ffmpeg -ss` runs (full-size JPEGs, same quality).

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
        count = sum(len(files) for _, _, files in os.walk(directory))
        shutil.rmtree(directory)
        times.append(total)
        peaks.append(peak)
    return {"label": label, "seconds": statistics.median(times), "peak_mb": max(peaks), "files": count}


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

    # (rung height, box width, peak bit rate) as in MediaWorker's default ladder
    ladder = [(1080, 1920, 6000), (720, 1280, 3000), (360, 640, 365), (234, 416, 145)]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
            "-force_key_frames", "expr:gte(t,n_forced*2)", "-pix_fmt", "yuv420p"]
    hls = ["-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments"]

    def ffmpeg_split(d):
        graph = f"[0:v]split={len(ladder)}" + "".join(f"[s{i}]" for i in range(len(ladder))) + ";" + ";".join(
            f"[s{i}]scale={width}:{height}[o{i}]" for i, (height, width, _) in enumerate(ladder))
        command = [ffmpeg, "-v", "error", "-i", args.source, "-filter_complex", graph]
        for i in range(len(ladder)):
            command += ["-map", f"[o{i}]"]
        command += ["-map", "0:a:0"] + x264
        for i, (_, _, rate) in enumerate(ladder):
            command += [f"-maxrate:v:{i}", f"{rate}k", f"-bufsize:v:{i}", f"{2 * rate}k"]
        streams = " ".join(f"v:{i},agroup:aud" for i in range(len(ladder))) + " a:0,agroup:aud"
        return [command + ["-c:a", "aac", "-b:a", "128k"] + hls + [
            "-master_pl_name", "master.m3u8", "-var_stream_map", streams,
            "-hls_segment_filename", os.path.join(d, "%v", "seg%05d.m4s"), os.path.join(d, "%v", "index.m3u8")]]

    def ffmpeg_separate(d):
        return [[ffmpeg, "-v", "error", "-i", args.source, "-vf", f"scale={width}:{height}"] + x264 +
                ["-maxrate", f"{rate}k", "-bufsize", f"{2 * rate}k", "-c:a", "aac", "-b:a", "128k"] + hls +
                ["-hls_segment_filename", os.path.join(d, f"{height}p-%05d.m4s"), "-hls_fmp4_init_filename", f"{height}p-init.mp4",
                 os.path.join(d, f"{height}p.m3u8")]
                for height, width, rate in ladder]

    rows = []
    ours = measure("ladder: media-worker (one pass)", lambda d: [[
        args.binary, "hls", args.source, "--out", os.path.join(d, "p"), "--rungs", ",".join(str(h) for h, _, _ in ladder),
        "--packaging", "encode"]], args.repeat)
    split = measure("ladder: ffmpeg split, one run", ffmpeg_split, args.repeat)
    separate = measure("ladder: ffmpeg, four runs", ffmpeg_separate, args.repeat)
    rows.append((ours, split, 1.0))
    rows.append((ours, separate, 0.8))
    ours = measure("copy to HLS: media-worker", lambda d: [[
        args.binary, "hls", args.source, "--out", os.path.join(d, "p"), "--rungs", "1080", "--packaging", "copy"]], args.repeat)
    theirs = measure("copy to HLS: ffmpeg -c copy -f hls", lambda d: [[
        ffmpeg, "-v", "error", "-i", args.source, "-c", "copy"] + hls + [
        "-hls_segment_filename", os.path.join(d, "seg%05d.m4s"), os.path.join(d, "index.m3u8")]], args.repeat)
    rows.append((ours, theirs, 1.2))
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
    print(f"{'':40}{'seconds':>10}{'peak RSS MB':>14}{'files':>8}")
    for ours, theirs, aim in rows:
        for row in (ours, theirs):
            print(f"{row['label']:40}{row['seconds']:>10.3f}{row['peak_mb']:>14.1f}{row['files']:>8}")
        ratio = ours["seconds"] / theirs["seconds"]
        print(f"{'  ratio ours / ffmpeg':40}{ratio:>10.2f}   aim <= {aim}: {'met' if ratio <= aim else 'NOT met'}")


if __name__ == "__main__":
    main()
