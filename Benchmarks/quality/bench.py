"""Quality benchmark: what per-title ladders save, and what quality measurement costs.

On three generated sources of very different complexity (the test fixtures' generators, longer):
a still slide, a talking-head-like scene (a small moving picture on a static background) and
high-motion noise, all 960x540 at 30 fps:
 (a) the fixed ladder (234p, 360p, 540p capped CRF) and the per-title ladder, each rung's bytes and
     its luma PSNR at the picture's full size (scaled up bicubic, as a player shows it) measured by
     the ffmpeg CLI's psnr filter (scripts/test/quality_judge.py), not by us; for every fixed rung
     the cheapest per-title rung at equal or better PSNR; bytes summed over the three sources
     (aim: the per-title ladders >= 30 % fewer bytes);
 (b) the per-title analysis (sample encodes and their measurement) as a share of the encode that
     follows (aim <= 25 %);
 (c) the quality report at its default (10 % of segments) as extra CPU time of a fixed-ladder
     transcode (aim <= 10 %).

usage: bench.py MEDIA_WORKER_BINARY [--seconds N]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
JUDGE = os.path.join(HERE, "..", "..", "scripts", "test", "quality_judge.py")
SIZE = "960x540"


def make_sources(directory, seconds):
    def ff(*args):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    slide = os.path.join(directory, "slide.png")
    ff("-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=1", "-frames:v", "1", slide)
    sources = {
        "still slide": os.path.join(directory, "still.mp4"),
        "talking head": os.path.join(directory, "low-motion.mp4"),
        "noise": os.path.join(directory, "noise.mp4"),
    }
    ff("-loop", "1", "-framerate", "30", "-i", slide, "-t", str(seconds), *x264, "-crf", "8", sources["still slide"])
    ff("-f", "lavfi", "-i", f"smptehdbars=size={SIZE}:rate=30", "-f", "lavfi", "-i", "testsrc2=size=240x240:rate=30",
       "-filter_complex", "[0:v][1:v]overlay=x=360+40*sin(t):y=150", "-t", str(seconds), *x264, "-crf", "8", sources["talking head"])
    ff("-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=30", "-vf", "noise=alls=12:allf=t", "-t", str(seconds), *x264, "-crf", "12",
       sources["noise"])
    return sources


def run(command):
    """(wall seconds, CPU seconds, peak RSS MB, stdout) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}\n{err[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def rungs(source, package, result):
    """Each video rendition: folder, bytes (init and segments), PSNR at full size by the ffmpeg CLI."""
    found = []
    for rendition in result["renditions"]:
        if rendition["kind"] != "video":
            continue
        folder = rendition["playlist"].split("/")[0]
        path = os.path.join(package, folder)
        size = sum(os.path.getsize(os.path.join(path, name)) for name in os.listdir(path) if name.endswith((".m4s", ".mp4")))
        verdict = json.loads(subprocess.run([sys.executable, JUDGE, source, package, folder, "--compare-at", SIZE],
                                            check=True, capture_output=True, text=True).stdout)
        frames = sum(s["frames"] for s in verdict["segments"])
        mse = sum(s["mse_sum"] for s in verdict["segments"]) / frames
        found.append({"folder": folder, "resolution": f"{rendition['width']}x{rendition['height']}", "bytes": size,
                      "psnr": 10 * math.log10(255 * 255 / mse)})
    return sorted(found, key=lambda r: r["bytes"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    # 60 s: ten 6 s segments, so the report's default 10 % is one segment exactly.
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mw-bench-quality-")
    try:
        sources = make_sources(work, args.seconds)
        print(f"quality benchmark: three {SIZE} sources of {args.seconds} s, {os.cpu_count()} cores; PSNR (Y, dB) by the ffmpeg CLI at {SIZE}")
        total_fixed = total_title = 0
        probe_total = encode_total = 0.0
        report_rows = []
        for name, source in sources.items():
            fixed_dir, title_dir = os.path.join(work, name + "-fixed"), os.path.join(work, name + "-title")
            fixed_wall, fixed_cpu, fixed_rss, out = run([args.binary, "hls", source, "--out", fixed_dir, "--packaging", "encode",
                                                         "--quality-sample", "0"])
            fixed = rungs(source, fixed_dir, json.loads(out))
            title_wall, _, title_rss, out = run([args.binary, "hls", source, "--out", title_dir, "--per-title", "--quality-sample", "0"])
            result = json.loads(out)
            title = rungs(source, title_dir, result)
            probe_total += result["probe_s"]
            encode_total += result["encode_s"]
            fixed_bytes, title_bytes = sum(r["bytes"] for r in fixed), sum(r["bytes"] for r in title)
            total_fixed += fixed_bytes
            total_title += title_bytes
            print(f"\n{name}: fixed ladder {fixed_wall:.1f} s (peak {fixed_rss:.0f} MB); per-title {title_wall:.1f} s "
                  f"(analysis {result['probe_s']:.1f} s + encode {result['encode_s']:.1f} s, peak {title_rss:.0f} MB), "
                  f"target {result['ladder']['target_psnr']:.2f} dB")
            print(f"  {'fixed rung':14}{'bytes':>11}{'PSNR':>8}   {'per-title rung at >= PSNR':28}{'bytes':>11}{'PSNR':>8}")
            for rung in fixed:
                match = next((r for r in title if r["psnr"] >= rung["psnr"] - 1e-9), None)
                if match:
                    print(f"  {rung['resolution']:14}{rung['bytes']:>11}{rung['psnr']:>8.2f}   {match['resolution'] + ' (' + match['folder'] + ')':28}"
                          f"{match['bytes']:>11}{match['psnr']:>8.2f}")
                else:
                    print(f"  {rung['resolution']:14}{rung['bytes']:>11}{rung['psnr']:>8.2f}   none reaches it")
            print(f"  per-title rungs: " + ", ".join(f"{r['resolution']} {r['bytes']} B {r['psnr']:.2f} dB" for r in title))
            top_ok = title[-1]["psnr"] >= fixed[-1]["psnr"] - 0.3 if title and fixed else False
            print(f"  bytes per-title / fixed: {title_bytes / fixed_bytes:.2f} ({len(title)} rungs vs {len(fixed)}); "
                  f"top rung {title[-1]['psnr']:.2f} vs {fixed[-1]['psnr']:.2f} dB: {'as good' if top_ok else 'WORSE'}")
            # (c) the quality report's cost on this source: the fixed ladder again, with the default sample.
            wall, cpu, rss, out = run([args.binary, "hls", source, "--out", fixed_dir + "-q", "--packaging", "encode"])
            report_rows.append((name, fixed_cpu, cpu, rss))
            shutil.rmtree(fixed_dir + "-q")
        ratio = total_title / total_fixed
        print(f"\nbytes summed over the three: per-title {total_title} vs fixed {total_fixed} = {ratio:.2f} "
              f"({(1 - ratio) * 100:.0f} % fewer); aim >= 30 % fewer: {'met' if ratio <= 0.70 else 'NOT met'}")
        share = probe_total / encode_total
        print(f"per-title analysis / encode: {probe_total:.1f} s / {encode_total:.1f} s = {share:.2f}; aim <= 0.25: "
              f"{'met' if share <= 0.25 else 'NOT met'}")
        print(f"\nquality report at its default (10 % of segments), CPU seconds of a fixed-ladder transcode:")
        cpu_without = cpu_with = 0.0
        for name, without, with_report, rss in report_rows:
            print(f"  {name:14} without {without:7.1f}  with {with_report:7.1f}  = {with_report / without:.3f} (peak {rss:.0f} MB)")
            cpu_without += without
            cpu_with += with_report
        print(f"  all three: {cpu_with / cpu_without:.3f}; aim <= 1.10: {'met' if cpu_with <= 1.10 * cpu_without else 'NOT met'}")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
