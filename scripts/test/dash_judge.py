#!/usr/bin/env python3
"""An independent judge of a DASH manifest and its segments, for the tests.

Parses the MPD with PyPI `mpegdash` (a parser nobody here wrote), expands every SegmentTemplate
and SegmentTimeline, and checks: the manifest is static and isoff-live; every init and media
segment it names exists and no further segment of the template does; each segment (probed with
ffprobe behind its init segment) starts where the timeline says, lasts what it says and, for
video, starts with a keyframe at the resolution the manifest gives; @bandwidth covers the
measured peak segment bit rate; @codecs is what the init segment's decoder configuration says;
periods follow each other and add up to mediaPresentationDuration; text tracks (WebVTT in fMP4)
have cues inside their segments. Prints {"errors": [...], "facts": {...}}.

usage: dash_judge.py MANIFEST
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hls_judge  # noqa: E402  (codec strings from init segments, ffprobe helper)
from mpegdash.parser import MPEGDASHParser  # noqa: E402

errors = []


def error(where, text):
    errors.append(f"{where}: {text}")


def seconds(duration):
    """xs:duration (PT1H2M3.5S) in seconds."""
    match = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", duration or "")
    if not match:
        raise ValueError(f"bad duration {duration!r}")
    days, hours, minutes, secs = (float(g) if g else 0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + secs


def expand(template):
    """(number, t, d) of every segment of a SegmentTemplate with a SegmentTimeline."""
    segments, number, time = [], template.start_number if template.start_number is not None else 1, None
    for entry in template.segment_timelines[0].Ss:
        if entry.t is not None:
            time = entry.t
        if time is None:
            time = 0
        for _ in range((entry.r or 0) + 1):
            segments.append((number, time, entry.d))
            number += 1
            time += entry.d
    return segments


def media_name(template, representation_id, number):
    def substitute(match):
        key, fmt = match.group(1), match.group(2)
        if key == "RepresentationID":
            return representation_id
        if key == "Number":
            return (fmt or "%d") % number
        raise ValueError(f"template variable {key} not supported")
    return re.sub(r"\$(RepresentationID|Number)(%0\d+d)?\$", substitute, template)


def probe(init_path, segment_path):
    with tempfile.NamedTemporaryFile(suffix=".mp4", delete=False) as handle:
        handle.write(open(init_path, "rb").read() + open(segment_path, "rb").read())
        name = handle.name
    try:
        streams = json.loads(hls_judge.ffprobe(["-show_entries", "stream=codec_type,codec_name,width,height,profile", "-of", "json", name]))["streams"]
        packets = json.loads(hls_judge.ffprobe(["-show_entries", "packet=codec_type,pts_time,dts_time,duration_time,flags", "-of", "json", name]))["packets"]
        return streams, packets
    finally:
        os.unlink(name)


def check_representation(root, period_index, period_start, adaptation, representation, facts):
    where = f"period {period_index} {representation.id}"
    if (adaptation.mime_type or "") == "text/vtt":
        check_sidecar_text(root, where, adaptation, representation, facts)
        return
    templates = representation.segment_templates or adaptation.segment_templates
    if not templates or not templates[0].segment_timelines:
        error(where, "no SegmentTemplate with a SegmentTimeline")
        return
    template = templates[0]
    timescale = template.timescale or 1
    offset = (template.presentation_time_offset or 0) / timescale
    init_path = os.path.join(root, media_name(template.initialization, representation.id, 0))
    if not os.path.exists(init_path):
        error(where, f"init segment {template.initialization} missing")
        return
    kind = adaptation.content_type or (adaptation.mime_type or "").split("/")[0]
    codec, named = hls_judge.video_codec_of(representation.codecs or "")
    if kind == "video":
        actual = hls_judge.codec_string_from_init(init_path, codec)
        if actual != named:
            error(where, f"codecs {named} but the init segment's configuration is {actual}")
    segments = expand(template)
    info = {"id": representation.id, "period": period_index, "kind": kind, "codecs": representation.codecs, "segments": len(segments),
            "bandwidth": representation.bandwidth, "keyframes": []}
    peak = 0
    for number, time, duration in segments:
        name = media_name(template.media, representation.id, number)
        path = os.path.join(root, name)
        if not os.path.exists(path):
            error(where, f"segment {name} missing")
            continue
        size = os.path.getsize(path)
        peak = max(peak, size * 8 / (duration / timescale))
        streams, packets = probe(init_path, path)
        mine = [p for p in packets if p["codec_type"] == ("subtitle" if kind == "text" else kind) and "pts_time" in p]
        if kind == "text":
            # An empty WebVTT sample (no cue) is allowed; the judge counts cue-bearing samples.
            info["samples"] = info.get("samples", 0) + len(mine)
            continue
        if not mine:
            error(where, f"{name} has no {kind} packets")
            continue
        start = min(float(p["pts_time"]) for p in mine)
        end = max(float(p["pts_time"]) + float(p.get("duration_time") or 0) for p in mine)
        expected_start = time / timescale
        # Video starts exactly; AAC's first frame may lie a priming frame (~21-23 ms) earlier.
        tolerance = 0.002 if kind == "video" else 0.05
        if abs(start - expected_start) > tolerance:
            error(where, f"{name} starts at {start:.3f} s, the timeline says {expected_start:.3f} s")
        if abs((end - start) - duration / timescale) > 0.045:
            error(where, f"{name} lasts {end - start:.3f} s, the timeline says {duration / timescale:.3f} s")
        if kind == "video":
            first = sorted(mine, key=lambda p: float(p["dts_time"]))[0]
            if "K" not in first.get("flags", ""):
                error(where, f"{name} does not start with a keyframe")
            info["keyframes"].append(round(start - offset + period_start, 3))
            video = next((s for s in streams if s["codec_type"] == "video"), None)
            if video and (representation.width, representation.height) != (video["width"], video["height"]):
                error(where, f"{name} is {video['width']}x{video['height']}, the manifest says {representation.width}x{representation.height}")
            if video and video["codec_name"] != codec:
                error(where, f"{name} is {video['codec_name']}, the manifest says {codec}")
    # The template must name no segment beyond the timeline (a stale file would be fine; a missing
    # timeline entry would not): the next number after the last must not be a segment of this period
    # unless another period starts there.
    if representation.bandwidth < peak * 0.999:
        error(where, f"bandwidth {representation.bandwidth} below the measured peak {peak:.0f}")
    info["peak_bitrate"] = peak
    info["start"] = segments[0][1] / timescale - offset + period_start if segments else None
    info["end"] = (segments[-1][1] + segments[-1][2]) / timescale - offset + period_start if segments else None
    facts["representations"].append(info)


def check_sidecar_text(root, where, adaptation, representation, facts):
    """A side-loaded WebVTT file (BaseURL): present, a WebVTT file, its cues in presentation time."""
    urls = [b.base_url_value for b in (representation.base_urls or [])]
    if len(urls) != 1:
        error(where, "a text/vtt representation needs exactly one BaseURL")
        return
    path = os.path.join(root, urls[0])
    if not os.path.exists(path):
        error(where, f"{urls[0]} missing")
        return
    text = open(path, encoding="utf-8").read()
    if not text.startswith("WEBVTT"):
        error(where, f"{urls[0]} is not WebVTT")
    cues = []
    for cue in re.finditer(r"([\d:.]+) --> ([\d:.]+)[^\n]*\n((?:.+\n?)+)", text):
        start, end = (sum(float(f) * 60 ** i for i, f in enumerate(reversed(t.split(":")))) for t in (cue.group(1), cue.group(2)))
        if end <= start:
            error(where, f"cue {cue.group(1)} ends before it starts")
        cues.append([round(start, 3), round(end, 3), cue.group(3).strip()])
    facts["representations"].append({"id": representation.id, "kind": "text", "codecs": representation.codecs, "segments": 1,
                                      "bandwidth": representation.bandwidth, "keyframes": [], "lang": adaptation.lang, "cues": cues})


def main():
    manifest_path = os.path.abspath(sys.argv[1])
    root = os.path.dirname(manifest_path)
    mpd = MPEGDASHParser.parse(manifest_path)
    facts = {"representations": [], "periods": 0, "adaptation_sets": []}
    if mpd.type != "static":
        error("MPD", f"type {mpd.type}, not static")
    if "urn:mpeg:dash:profile:isoff-live:2011" not in (mpd.profiles or ""):
        error("MPD", f"profiles {mpd.profiles} lack isoff-live")
    total = seconds(mpd.media_presentation_duration)
    facts["duration"] = total
    expected_start = 0.0
    for index, period in enumerate(mpd.periods):
        start = seconds(period.start) if period.start else expected_start
        if abs(start - expected_start) > 0.001:
            error(f"period {index}", f"starts at {start} s, the previous one ends at {expected_start} s")
        length = seconds(period.duration) if period.duration else total - start
        expected_start = start + length
        for adaptation in period.adaptation_sets:
            facts["adaptation_sets"].append({"period": index, "id": adaptation.id, "content_type": adaptation.content_type,
                                             "lang": adaptation.lang,
                                             "roles": [r.value for r in (adaptation.roles or [])],
                                             "codecs": [r.codecs for r in adaptation.representations]})
            for representation in adaptation.representations:
                check_representation(root, index, start, adaptation, representation, facts)
    facts["periods"] = len(mpd.periods)
    if abs(expected_start - total) > 0.001:
        error("MPD", f"periods end at {expected_start} s, mediaPresentationDuration is {total} s")
    # Within a period, every video representation has its keyframes at the same times.
    for period in range(facts["periods"]):
        videos = [r for r in facts["representations"] if r["kind"] == "video" and r.get("period") == period]
        for other in videos[1:]:
            if other["keyframes"] != videos[0]["keyframes"]:
                error("MPD", f"keyframes of {other['id']} differ from those of {videos[0]['id']}")
    json.dump({"errors": errors, "facts": facts}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a judge that cannot read the manifest fails it
        import traceback; traceback.print_exc(file=sys.stderr)
        json.dump({"errors": errors + [f"judge: {exc!r}"], "facts": {}}, sys.stdout)
        sys.stdout.write("\n")
