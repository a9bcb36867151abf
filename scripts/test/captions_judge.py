"""Judges a compose job's narration captions against its scenes and its audio, independently of
the worker: the WebVTT parsed here, the speech found by the ffmpeg CLI's silencedetect.

usage: captions_judge.py CAPTIONS.vtt VIDEO.mp4 --scenes JSON --fps 25

JSON: [{"start_s", "end_s", "text", "spoken"}] per scene with a caption ("spoken": the caption is
the text the TTS spoke, so its cues must follow the voice). Prints
{"ok": bool, "cues": N, "problems": [...], "silences": [[start, end], ...]}.

Checks: cues in order without overlap, at most two lines of 42 characters (a longer single word
alone), the words of each scene's caption in order; every cue inside its scene (to a frame); for
spoken scenes, the first cue starts and the last ends within a frame of the voice, and every pause
between two cues is a silence in the audio whose edges are the cues' (to a frame).
"""
import argparse
import html
import json
import re
import subprocess
import sys


def seconds(stamp):
    fields = stamp.strip().split(":")
    value = 0.0
    for field in fields:
        value = value * 60 + float(field)
    return value


def parse(path):
    text = open(path, encoding="utf-8").read().replace("\r\n", "\n")
    if not text.startswith("WEBVTT"):
        raise ValueError("no WEBVTT header")
    cues = []
    for block in text.split("\n\n")[1:]:
        lines = [line for line in block.split("\n") if line]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        start, end = lines[timing].split("-->")
        cues.append({"start": seconds(start), "end": seconds(end.split()[0]), "lines": [html.unescape(l) for l in lines[timing + 1:]]})
    return cues


def silences(media, duration):
    run = subprocess.run(["ffmpeg", "-v", "info", "-nostats", "-i", media, "-vn", "-af", f"silencedetect=n=-45dB:d={duration}", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=300)
    starts = [float(x) for x in re.findall(r"silence_start: (-?[0-9.]+)", run.stderr)]
    ends = [float(x) for x in re.findall(r"silence_end: ([0-9.]+)", run.stderr)]
    if len(ends) < len(starts):
        ends.append(float("inf"))
    return list(zip(starts, ends))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("captions")
    parser.add_argument("media")
    parser.add_argument("--scenes", required=True)
    parser.add_argument("--fps", type=float, default=25)
    args = parser.parse_args()
    frame = 1 / args.fps
    scenes = json.loads(args.scenes)
    problems = []
    cues = parse(args.captions)
    quiet = silences(args.media, 0.03)

    previous_end = 0
    for cue in cues:
        if cue["start"] < previous_end - 0.0005 or cue["end"] <= cue["start"]:
            problems.append(f"cue at {cue['start']} overlaps the one before or is empty")
        previous_end = cue["end"]
        if not 1 <= len(cue["lines"]) <= 2:
            problems.append(f"cue at {cue['start']} has {len(cue['lines'])} lines")
        for line in cue["lines"]:
            if len(line) > 42 and " " in line:
                problems.append(f"line longer than 42 characters: {line!r}")

    def voice_start(at):
        for start, end in quiet:
            if start - frame <= at <= end:
                return end
        return at

    def voice_end(at):
        for start, end in quiet:
            if start <= at <= end + frame:
                return start
        return at

    for number, scene in enumerate(scenes):
        own = [cue for cue in cues if scene["start_s"] - frame <= cue["start"] < scene["end_s"]]
        words = " ".join(" ".join(cue["lines"]) for cue in own).split()
        if words != scene["text"].split():
            problems.append(f"scene {number}: cue words {words} are not its caption {scene['text'].split()}")
        for cue in own:
            if cue["end"] > scene["end_s"] + frame:
                problems.append(f"scene {number}: cue at {cue['start']} ends at {cue['end']}, after the scene ({scene['end_s']})")
        if not scene.get("spoken") or not own:
            continue
        begins = voice_start(scene["start_s"])
        if abs(own[0]["start"] - begins) > frame:
            problems.append(f"scene {number}: first cue at {own[0]['start']}, the voice starts at {begins}")
        ends = voice_end(scene["end_s"])
        if abs(own[-1]["end"] - ends) > frame:
            problems.append(f"scene {number}: last cue ends at {own[-1]['end']}, the voice at {ends}")
        for before, after in zip(own, own[1:]):
            if after["start"] - before["end"] < 0.1:
                continue
            if not any(abs(start - before["end"]) <= frame and abs(end - after["start"]) <= frame for start, end in quiet):
                problems.append(f"scene {number}: the pause {before['end']}–{after['start']} between cues is not a silence of the audio")

    result = {"ok": not problems, "cues": len(cues), "problems": problems, "silences": [[round(s, 3), round(e, 3)] for s, e in quiet]}
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
