"""Compose benchmark: MediaWorker's `compose` job against the ffmpeg CLI doing the same work in
one filter graph on the same inputs, side by side in one run. Prints median wall times, the
ratio and peak memory (RSS of each process, by wait4).

The work: N scenes (default 10) of S seconds (default 5) at 1920x1080, 30 fps; each a textured
1920x1080 JPEG with a slow 12 % zoom (Ken Burns) and a WAV narration; 0.5 s crossfades centred
on the scene boundaries (the narration is never overlapped); H.264 (x264 veryfast, CRF 23,
keyframes every 2 s, no scene cuts) + AAC 128 kb/s 48 kHz stereo in an MP4 with moov first.

The ffmpeg side is the usual single command: each still decoded once and zoomed by `zoompan`
for exactly its frames (first and last scenes half a fade longer, the others a whole fade),
chained with `xfade` at the boundaries minus half a fade, narrations joined by `concat`.
MediaWorker runs the whole job (`media-worker process` with local storage): copying inputs into
its job folder, composing, and storing the MP4.

usage: bench.py MEDIA_WORKER_BINARY [--repeat N] [--scenes N] [--seconds S]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

WIDTH, HEIGHT, FPS, ZOOM, FADE = 1920, 1080, 30, 0.12, 0.5


def run(command, env=None):
    """Runs a command; returns (seconds, peak RSS in MB) measured by wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}\n{process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def make_inputs(directory, scenes, seconds):
    sources = ["testsrc2", "mandelbrot", "smptehdbars", "rgbtestsrc", "cellauto", "life", "yuvtestsrc", "pal100bars", "testsrc", "allrgb"]
    for i in range(scenes):
        source = sources[i % len(sources)]
        size = "4096x4096" if source == "allrgb" else f"{WIDTH}x{HEIGHT}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=s={size}" if source != "allrgb" else "allrgb",
                        "-vf", f"scale={WIDTH}:{HEIGHT},hue=h={i * 36}", "-frames:v", "1", "-q:v", "3",
                        os.path.join(directory, f"scene{i}.jpg")], check=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f={300 + 40 * i}:sample_rate=48000:d={seconds}",
                        "-ac", "1", os.path.join(directory, f"voice{i}.wav")], check=True)


def ffmpeg_command(directory, output, scenes, seconds):
    command = ["ffmpeg", "-v", "error", "-y"]
    for i in range(scenes):
        command += ["-i", os.path.join(directory, f"scene{i}.jpg")]
    for i in range(scenes):
        command += ["-i", os.path.join(directory, f"voice{i}.wav")]
    parts = []
    for i in range(scenes):
        visual = seconds + (FADE / 2 if i in (0, scenes - 1) else FADE) if scenes > 1 else seconds
        frames = round(visual * FPS)
        zoom = f"1+{ZOOM}*on/{frames}" if i % 2 == 0 else f"{1 + ZOOM}-{ZOOM}*on/{frames}"
        parts.append(f"[{i}:v]zoompan=z='{zoom}':d={frames}:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':"
                     f"s={WIDTH}x{HEIGHT}:fps={FPS},format=yuv420p,setsar=1[v{i}]")
    previous = "v0"
    for i in range(1, scenes):
        offset = i * seconds - FADE / 2
        parts.append(f"[{previous}][v{i}]xfade=transition=fade:duration={FADE}:offset={offset:.3f}[x{i}]")
        previous = f"x{i}"
    parts.append("".join(f"[{scenes + i}:a]" for i in range(scenes)) + f"concat=n={scenes}:v=0:a=1[a]")
    command += ["-filter_complex", ";".join(parts), "-map", f"[{previous}]", "-map", "[a]",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
                "-force_key_frames", "expr:gte(t,n_forced*2)", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-movflags", "+faststart", output]
    return command


def mediaworker_job(directory, scenes):
    job = {
        "id": "bench", "type": "compose", "output": {"url": f"file://{directory}/out/"}, "file_id": "composed",
        "options": {
            "scenes": [{"visual": f"file://{directory}/scene{i}.jpg", "audio": f"file://{directory}/voice{i}.wav"} for i in range(scenes)],
            "output": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "preset": "veryfast", "crf": 23},
            "ken_burns": {"zoom": ZOOM}, "transition": FADE,
        },
    }
    path = os.path.join(directory, "job.json")
    with open(path, "w") as handle:
        json.dump(job, handle)
    return path


def duration(path):
    return float(subprocess.check_output(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path]).decode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="mw-bench-compose-")
    try:
        make_inputs(directory, args.scenes, args.seconds)
        job = mediaworker_job(directory, args.scenes)
        env = dict(os.environ, MW_STORAGE_ROOT=directory, MW_TEMP_DIR=os.path.join(directory, "tmp"))
        ours, theirs = [], []
        for round_ in range(args.repeat):
            # Alternate the order so neither side always runs on a warmer machine.
            for side in (("ours", "cli") if round_ % 2 == 0 else ("cli", "ours")):
                if side == "ours":
                    shutil.rmtree(os.path.join(directory, "out"), ignore_errors=True)
                    ours.append(run([args.binary, "process", job], env=env))
                else:
                    theirs.append(run(ffmpeg_command(directory, os.path.join(directory, "cli.mp4"), args.scenes, args.seconds)))
        mine = os.path.join(directory, "out", "composed", "video.mp4")
        cli = os.path.join(directory, "cli.mp4")
        ours_s, theirs_s = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in theirs)
        print(f"compose: {args.scenes} scenes x {args.seconds:g} s at {WIDTH}x{HEIGHT}@{FPS}, Ken Burns {ZOOM:g}, crossfades {FADE:g} s "
              f"(median of {args.repeat})")
        print(f"  {'':28} {'wall s':>8} {'peak MB':>8} {'duration s':>10}")
        print(f"  {'MediaWorker compose job':28} {ours_s:8.2f} {max(m for _, m in ours):8.0f} {duration(mine):10.3f}")
        print(f"  {'ffmpeg CLI filter graph':28} {theirs_s:8.2f} {max(m for _, m in theirs):8.0f} {duration(cli):10.3f}")
        print(f"  ratio (ours / ffmpeg CLI): {ours_s / theirs_s:.2f}x  (target: at most 1.10x)")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
