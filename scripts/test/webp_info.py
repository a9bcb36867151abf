"""Reads an animated WebP (or GIF) back with Pillow (an independent reader): prints
{"format", "frames", "duration_ms" (every frame's duration summed), "width", "height", "loop"};
with --frames also "shown": [[duration_ms, mean grey level 0-255], ...] per frame, to check which
moments of a video a preview shows.
libwebp merges a run of identical pictures into one frame shown longer: count time, not frames.

usage: webp_info.py FILE [--frames]
"""
import json
import sys

from PIL import Image, ImageStat

with Image.open(sys.argv[1]) as image:
    total = 0
    shown = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        image.load()   # a frame's duration is known once it is decoded
        duration = image.info.get("duration", 0)
        total += duration
        if "--frames" in sys.argv[2:]:
            shown.append([duration, sum(ImageStat.Stat(image.convert("RGB")).mean) / 3])
    facts = {"format": image.format, "frames": getattr(image, "n_frames", 1), "duration_ms": total,
             "width": image.width, "height": image.height, "loop": image.info.get("loop")}
    if "--frames" in sys.argv[2:]:
        facts["shown"] = shown
    print(json.dumps(facts))
