#!/usr/bin/env python3
"""An independent judge of the quality report: the ffmpeg CLI's own psnr and ssim filters.

    quality_judge.py SOURCE PACKAGE_DIR RENDITION [--compare-at WxH]

Decodes every segment of PACKAGE_DIR/RENDITION (behind init.mp4 for fMP4) and the SOURCE,
scales both to the comparison size (the rendition's own, or WxH) with bicubic, and runs
`psnr` and `ssim` on the pairs, frame by frame. Prints JSON: the frame rate and, per segment of
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
    values = []
    for line in open(path):
        fields = dict(part.split(":", 1) for part in line.split() if ":" in part)
        values.append(float(fields[key]))
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("package")
    parser.add_argument("rendition")
    parser.add_argument("--compare-at")
    args = parser.parse_args()
    folder = os.path.join(args.package, args.rendition)
    segments = playlist_segments(os.path.join(folder, "index.m3u8"))
    with tempfile.TemporaryDirectory() as work:
        joined = os.path.join(work, "rendition.mp4")
        with open(joined, "wb") as out:
            init = os.path.join(folder, "init.mp4")
            if os.path.exists(init):
                out.write(open(init, "rb").read())
            for segment in segments:
                out.write(open(os.path.join(folder, segment["name"]), "rb").read())
        info = probe(joined, "width,height,r_frame_rate")
        size = args.compare_at or f"{info['width']}x{info['height']}"
        width, height = size.split("x")
        num, den = info["r_frame_rate"].split("/")
        fps = float(num) / float(den)
        psnr_log, ssim_log = os.path.join(work, "psnr.log"), os.path.join(work, "ssim.log")
        scale = f"scale={width}:{height}:flags=bicubic,format=yuv420p,setpts=PTS-STARTPTS"
        graph = (f"[0:v]{scale},split[d1][d2];[1:v]{scale},split[r1][r2];"
                 f"[d1][r1]psnr=stats_file={psnr_log}[p];[d2][r2]ssim=stats_file={ssim_log}[s]")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", joined, "-i", args.source, "-filter_complex", graph,
                        "-map", "[p]", "-f", "null", "-", "-map", "[s]", "-f", "null", "-"], check=True)
        mse = stats(psnr_log, "mse_y")
        ssim = stats(ssim_log, "Y")
    for segment in segments:
        first = round(segment["start_s"] * fps)
        last = round(segment["end_s"] * fps)
        chosen = range(first, min(last, len(mse)))
        segment.update(frames=len(chosen), mse_sum=sum(mse[i] for i in chosen), ssim_sum=sum(ssim[i] for i in chosen))
    print(json.dumps({"fps": fps, "compared_at": size, "frames": len(mse), "segments": segments}))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a verdict, never a bare crash
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        sys.exit(1)
