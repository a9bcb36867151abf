#!/usr/bin/env python3
"""Independent judge of a composed video's sync, using only ffmpeg/ffprobe and arithmetic.

Each scene of the test composition shows a distinct solid colour and (optionally) speaks a
distinct pure tone, so both kinds of boundary can be measured on the output itself:
  * video cuts: every frame decoded, its centre averaged and matched to the nearest scene colour;
  * audio boundaries: Goertzel energy of the two neighbouring tones in 20 ms windows (2 ms hop).
Checks: first video and audio timestamps are 0; each scene's pictures start within one frame
of its narration's start and last its narration's length within one frame; video cuts within
one frame of the measured audio boundaries; total video duration within one frame of the audio.

usage: compose_judge.py VIDEO SPEC.json     (SPEC: {"fps": 30, "scenes": [{"color": [r,g,b],
       "freq": 440 | null, "length_s": 1.3}, ...], "transition_s": 0, "tolerance_frames": 1})
prints {"errors": [...], "facts": {...}}; exit 0 when the measurement itself ran.
"""
import json
import math
import subprocess
import sys

RATE = 48000


def run(args):
    return subprocess.run(args, check=True, capture_output=True).stdout


def first_pts(video, stream):
    out = run(["ffprobe", "-v", "error", "-select_streams", stream, "-read_intervals", "%+#4",
               "-show_entries", "frame=pts_time", "-of", "csv=p=0", video]).decode().split()
    return float(out[0].split(",")[0]) if out else None


def frame_colours(video):
    """Mean RGB of each frame's centre (the middle 8x8 of a 16x16 reduction, clear of captions)."""
    raw = run(["ffmpeg", "-v", "error", "-i", video, "-map", "0:v:0", "-vf", "scale=16:16:flags=area",
               "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    size = 16 * 16 * 3
    colours = []
    for start in range(0, len(raw) - size + 1, size):
        frame = raw[start:start + size]
        total = [0, 0, 0]
        for y in range(4, 12):
            for x in range(4, 12):
                offset = (y * 16 + x) * 3
                for c in range(3):
                    total[c] += frame[offset + c]
        colours.append([value / 64 for value in total])
    return colours


def distance(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def audio_samples(video):
    raw = run(["ffmpeg", "-v", "error", "-i", video, "-map", "0:a:0", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"])
    count = len(raw) // 2
    import array
    samples = array.array("h")
    samples.frombytes(raw[:count * 2])
    return samples


def goertzel(samples, start, length, freq):
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for i in range(start, start + length):
        s0 = samples[i] + k * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - k * s1 * s2


def audio_boundary(samples, expected_s, f_before, f_after, search_s=0.15):
    """Centre of the first 20 ms window around `expected_s` where the next tone dominates."""
    window = int(0.02 * RATE)
    hop = int(0.002 * RATE)
    start = max(0, int((expected_s - search_s) * RATE) - window // 2)
    end = min(len(samples) - window, int((expected_s + search_s) * RATE))
    for position in range(start, end, hop):
        if goertzel(samples, position, window, f_after) > goertzel(samples, position, window, f_before):
            return (position + window / 2) / RATE
    return None


def judge(video, spec):
    fps = spec["fps"]
    frame_s = 1 / fps
    tolerance = spec.get("tolerance_frames", 1) * frame_s + 1e-6
    scenes = spec["scenes"]
    errors = []
    facts = {}

    facts["first_video_pts"] = first_pts(video, "v:0")
    facts["first_audio_pts"] = first_pts(video, "a:0")
    for name in ("first_video_pts", "first_audio_pts"):
        if facts[name] is None or abs(facts[name]) > 1e-6:
            errors.append(f"{name} is {facts[name]}, not 0")

    colours = frame_colours(video)
    samples = audio_samples(video)
    facts["frames"] = len(colours)
    facts["video_duration_s"] = len(colours) * frame_s
    facts["audio_duration_s"] = len(samples) / RATE
    expected_total = sum(scene["length_s"] for scene in scenes)
    if abs(facts["video_duration_s"] - facts["audio_duration_s"]) > tolerance:
        errors.append(f"video lasts {facts['video_duration_s']:.4f} s, audio {facts['audio_duration_s']:.4f} s")
    if abs(facts["audio_duration_s"] - expected_total) > tolerance:
        errors.append(f"audio lasts {facts['audio_duration_s']:.4f} s, the narrations {expected_total:.4f} s")

    palette = [scene["color"] for scene in scenes]
    labels = []
    for colour in colours:
        distances = [distance(colour, p) for p in palette]
        best = min(range(len(palette)), key=lambda i: distances[i])
        labels.append(best if distances[best] < 40 else None)
    # Scenes in order; a cut is the first frame nearer the next scene's colour than this one's.
    starts = [0]
    pure_lengths = []
    position = 0
    for i in range(len(scenes)):
        first = next((n for n in range(position, len(labels)) if labels[n] == i), None)
        if first is None:
            errors.append(f"scene {i + 1}: its colour never shows")
            return errors, facts
        last = first
        while last + 1 < len(labels) and labels[last + 1] == i:
            last += 1
        pure_lengths.append((last - first + 1) * frame_s)
        if i + 1 < len(scenes):
            cut = next((n for n in range(last + 1, len(colours))
                        if distance(colours[n], palette[i + 1]) < distance(colours[n], palette[i])), None)
            if cut is None:
                errors.append(f"no cut after scene {i + 1}")
                return errors, facts
            starts.append(cut)
        position = last + 1
    facts["video_cuts_s"] = [n * frame_s for n in starts]
    facts["pure_lengths_s"] = pure_lengths
    boundary = 0.0
    expected_starts = []
    for scene in scenes:
        expected_starts.append(boundary)
        boundary += scene["length_s"]
    facts["expected_starts_s"] = expected_starts
    ends = starts[1:] + [len(colours)]
    transition = spec.get("transition_s", 0)
    for i, scene in enumerate(scenes):
        start_s = starts[i] * frame_s
        if abs(start_s - expected_starts[i]) > tolerance:
            errors.append(f"scene {i + 1}: pictures start at {start_s:.4f} s, its narration at {expected_starts[i]:.4f} s")
        length_s = (ends[i] - starts[i]) * frame_s
        if abs(length_s - scene["length_s"]) > tolerance:
            errors.append(f"scene {i + 1}: pictures last {length_s:.4f} s, its narration {scene['length_s']:.4f} s")
        if transition == 0 and abs(pure_lengths[i] - length_s) > 1e-6:
            errors.append(f"scene {i + 1}: {pure_lengths[i]:.4f} s of its own colour in {length_s:.4f} s without a transition")
    audio_cuts = []
    for i in range(1, len(scenes)):
        before, after = scenes[i - 1].get("freq"), scenes[i].get("freq")
        if not before or not after:
            audio_cuts.append(None)
            continue
        measured = audio_boundary(samples, expected_starts[i], before, after)
        audio_cuts.append(measured)
        if measured is None:
            errors.append(f"scene {i + 1}: no audio boundary found near {expected_starts[i]:.4f} s")
            continue
        if abs(measured - expected_starts[i]) > tolerance:
            errors.append(f"scene {i + 1}: narration starts at {measured:.4f} s, expected {expected_starts[i]:.4f} s")
        if abs(measured - starts[i] * frame_s) > tolerance:
            errors.append(f"scene {i + 1}: cut at {starts[i] * frame_s:.4f} s, audio boundary at {measured:.4f} s")
    facts["audio_cuts_s"] = audio_cuts
    return errors, facts


def main():
    video, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as handle:
        spec = json.load(handle)
    errors, facts = judge(video, spec)
    print(json.dumps({"errors": errors, "facts": facts}))


if __name__ == "__main__":
    main()
