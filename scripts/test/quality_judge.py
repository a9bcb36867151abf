#!/usr/bin/env python3
"""An independent judge of the quality report: the ffmpeg CLI's own psnr and ssim filters.

    quality_judge.py SOURCE PACKAGE_DIR RENDITION [--compare-at WxH]

Decodes each segment of PACKAGE_DIR/RENDITION on its own (behind init.mp4 for fMP4) and the
SOURCE's frames of that segment's time, scales both to the comparison size (the rendition's own,
or WxH) with bicubic, and runs `psnr` and `ssim` on the pairs, in frame order. Prints JSON: the frame rate and, per segment of
the media playlist (name, start_s, end_s), the frames it holds, the sum of their luma MSE and
of their luma SSIM, so a test can average over exactly the segments the report measured.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def playlist_segments(path):
    segments, start, duration = [], 0.0, None
    for line in open(path):
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append({"name": line, "start_s": start, "end_s": start + duration})
            start += duration
            duration = None
    return segments


def probe(path, entries):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=" + entries,
                          "-of", "json", path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["streams"][0]


def stats(path, key):
    """Per-frame values of `key` from a metadata=print file (lines `key=value`)."""
    return [float(line.split("=", 1)[1]) for line in open(path) if line.startswith(key + "=")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("package")
    parser.add_argument("rendition")
    parser.add_argument("--compare-at")
    parser.add_argument("--whole", action="store_true",
                        help="PSNR only, every segment in one decode against the whole source (one entry; for benchmarks of long packages)")
    args = parser.parse_args()
    folder = os.path.join(args.package, args.rendition)
    segments = playlist_segments(os.path.join(folder, "index.m3u8"))
    init = os.path.join(folder, "init.mp4")
    first = os.path.join(folder, segments[0]["name"])
    info = probe(f"concat:{init}|{first}" if os.path.exists(init) else first, "width,height,r_frame_rate")
    size = args.compare_at or f"{info['width']}x{info['height']}"
    width, height = size.split("x")
    num, den = info["r_frame_rate"].split("/")
    fps = float(num) / float(den)
    scale = f"scale={width}:{height}:flags=bicubic,format=yuv420p"
    total = 0
    if args.whole:
        # All segments behind the init segment, one run, luma PSNR only: the package's frames in
        # order against the source's from its first frame (the package starts at 0).
        parts = [os.path.join(folder, s["name"]) for s in segments]
        url = "concat:" + "|".join(([init] if os.path.exists(init) else []) + parts)
        with tempfile.TemporaryDirectory() as work:
            psnr_log = os.path.join(work, "psnr.log")
            order = "setpts=N/(FRAME_RATE*TB)"
            graph = (f"[0:v]{scale},{order}[d];[1:v]{scale},{order}[r];"
                     f"[d][r]psnr=shortest=1,metadata=mode=print:file={psnr_log}[p]")
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-protocol_whitelist", "concat,file", "-i", url, "-i", args.source,
                            "-filter_complex", graph, "-map", "[p]", "-f", "null", "-"], check=True)
            mse = stats(psnr_log, "lavfi.psnr.mse.y")
        whole = {"name": "all", "start_s": segments[0]["start_s"], "end_s": segments[-1]["end_s"], "frames": len(mse),
                 "mse_sum": sum(mse), "ssim_sum": 0.0}
        print(json.dumps({"fps": fps, "compared_at": size, "frames": len(mse), "segments": [whole]}))
        return
    with tempfile.TemporaryDirectory() as work:
        # Each segment on its own (behind its init segment), as a player fetches it, against the
        # source frames of its time, paired in order.
        for segment in segments:
            path = os.path.join(folder, segment["name"])
            url = f"concat:{init}|{path}" if os.path.exists(init) else path
            first_frame, last_frame = round(segment["start_s"] * fps), round(segment["end_s"] * fps)
            psnr_log, ssim_log = os.path.join(work, "psnr.log"), os.path.join(work, "ssim.log")
            order = "setpts=N/(FRAME_RATE*TB)"
            graph = (f"[0:v]{scale},{order},split[d1][d2];"
                     f"[1:v]trim=start_frame={first_frame}:end_frame={last_frame},{scale},{order},split[r1][r2];"
                     # The frames' metadata, not stats_file: that rounds the MSE to 0.01, 0.2 dB at 58 dB.
                     f"[d1][r1]psnr=shortest=1,metadata=mode=print:file={psnr_log}[p];"
                     f"[d2][r2]ssim=shortest=1,metadata=mode=print:file={ssim_log}[s]")
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-protocol_whitelist", "concat,file", "-i", url, "-i", args.source,
                            "-filter_complex", graph, "-map", "[p]", "-f", "null", "-", "-map", "[s]", "-f", "null", "-"], check=True)
            mse, ssim = stats(psnr_log, "lavfi.psnr.mse.y"), stats(ssim_log, "lavfi.ssim.Y")
            segment.update(frames=len(mse), mse_sum=sum(mse), ssim_sum=sum(ssim))
            total += len(mse)
    print(json.dumps({"fps": fps, "compared_at": size, "frames": total, "segments": segments}))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a verdict, never a bare crash
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        sys.exit(1)
