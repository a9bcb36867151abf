"""Reads an animated WebP (or GIF) back with Pillow (an independent reader): prints
{"format", "frames", "duration_ms" (every frame's duration summed), "width", "height", "loop"}.
libwebp merges a run of identical pictures into one frame shown longer: count time, not frames.

usage: webp_info.py FILE
"""
import json
import sys

from PIL import Image

with Image.open(sys.argv[1]) as image:
    total = 0
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        image.load()   # a frame's duration is known once it is decoded
        total += image.info.get("duration", 0)
    print(json.dumps({"format": image.format, "frames": getattr(image, "n_frames", 1), "duration_ms": total,
                      "width": image.width, "height": image.height, "loop": image.info.get("loop")}))
