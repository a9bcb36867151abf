"""Judges automatic captions against speech whose sentences and times are known by construction.

usage: asr_judge.py CAPTIONS.vtt --sentences JSON [--tolerance 0.5]

JSON: [{"start", "end", "text"}] per spoken sentence (seconds on the media's timeline). Prints
{"ok": bool, "recall": r, "cues": N, "problems": [...]}: "recall" is the share of the sentences'
words found in the cues (case and punctuation ignored, each word counted as often as it is said);
"ok" needs the cues in order, each inside the sentence it overlaps most, within the tolerance.
Recall is reported, not judged here: the caller decides what an engine must reach.
"""
import argparse
import collections
import json
import re
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from captions_judge import parse  # noqa: E402


def words(text):
    return re.findall(r"[a-z0-9']+", text.lower())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("captions")
    parser.add_argument("--sentences", required=True)
    parser.add_argument("--tolerance", type=float, default=0.5)
    args = parser.parse_args()
    sentences = json.loads(args.sentences)
    cues = parse(args.captions)
    problems = []
    previous = 0
    for cue in cues:
        if cue["start"] < previous - 0.0005:
            problems.append(f"cue at {cue['start']} starts before the one before it ends ({previous})")
        previous = cue["end"]
        overlaps = [(min(cue["end"], s["end"]) - max(cue["start"], s["start"]), s) for s in sentences]
        best, sentence = max(overlaps, key=lambda pair: pair[0])
        if best <= 0:
            problems.append(f"cue {cue['start']}–{cue['end']} ({' '.join(cue['lines'])!r}) is outside every sentence")
        elif cue["start"] < sentence["start"] - args.tolerance or cue["end"] > sentence["end"] + args.tolerance:
            problems.append(f"cue {cue['start']}–{cue['end']} spills out of its sentence {sentence['start']}–{sentence['end']}")
    heard = collections.Counter(w for cue in cues for w in words(" ".join(cue["lines"])))
    said = collections.Counter(w for s in sentences for w in words(s["text"]))
    found = sum(min(count, heard[w]) for w, count in said.items())
    result = {"ok": bool(cues) and not problems, "recall": round(found / max(1, sum(said.values())), 3), "cues": len(cues), "problems": problems}
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
