#!/usr/bin/env python3
"""An independent judge of an HLS package, for the tests.

Reads the master playlist and every playlist it names, checks them line by line against the
rules of RFC 8216 (and the stricter ones MediaWorker promises), and runs ffprobe on every
segment and every I-frame byte range. H.264, HEVC (hvc1) and AV1 renditions: CODECS is checked
against the init segment's decoder configuration and the decoder's reading of the level. Prints one JSON object: {"errors": [...], "facts": {...}}.

usage: hls_judge.py MASTER [--target SECONDS] [--sync]
  --target  the configured target duration: no segment may exceed it by more than 0.5 s
  --sync    measure A/V sync on a source that flashes white and beeps at the same moments
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile

errors = []


def error(where, text):
    errors.append(f"{where}: {text}")


def ffprobe(args):
    result = subprocess.run(["ffprobe", "-v", "error"] + args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return result.stdout


def rounded(value):
    # RFC 8216 rounds to the nearest integer; halves go up here as in C's lround.
    return math.floor(value + 0.5)


def attributes(text):
    """An attribute list: KEY=value pairs, values quoted or not."""
    found = {}
    for match in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', text):
        found[match.group(1)] = match.group(2)
    return found


def unquote(value):
    return value[1:-1] if value and value.startswith('"') and value.endswith('"') else value


# Tags of RFC 8216 and the version they require (section 7).
MASTER_TAGS = {"#EXTM3U", "#EXT-X-VERSION", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-MEDIA", "#EXT-X-STREAM-INF",
               "#EXT-X-I-FRAME-STREAM-INF", "#EXT-X-START", "#EXT-X-SESSION-DATA", "#EXT-X-SESSION-KEY"}
MEDIA_TAGS = {"#EXTM3U", "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-PLAYLIST-TYPE",
              "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-MAP", "#EXTINF", "#EXT-X-BYTERANGE", "#EXT-X-ENDLIST",
              "#EXT-X-I-FRAMES-ONLY", "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-KEY",
              "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-START"}


def tag_name(line):
    return line.split(":", 1)[0]


def declared_version(lines, where):
    versions = [line for line in lines if line.startswith("#EXT-X-VERSION")]
    if len(versions) > 1:
        error(where, "more than one EXT-X-VERSION")
    return int(versions[0].split(":", 1)[1]) if versions else 1


def check_master(path):
    where = os.path.basename(path)
    lines = [line.strip() for line in open(path, encoding="utf-8").read().splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        error(where, "does not start with #EXTM3U")
    for line in lines:
        if line.startswith("#EXT") and tag_name(line) not in MASTER_TAGS:
            error(where, f"tag not allowed in a master playlist: {tag_name(line)}")
    required = 1
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF") or line.startswith("#EXT-X-I-FRAME-STREAM-INF"):
            if "PROGRAM-ID" in attributes(line.split(":", 1)[1]):
                error(where, "PROGRAM-ID is removed from protocol version 6")
    version = declared_version(lines, where)
    if version != required:
        error(where, f"EXT-X-VERSION {version}, but the tags used need only {required}")
    if "#EXT-X-INDEPENDENT-SEGMENTS" not in lines:
        error(where, "no EXT-X-INDEPENDENT-SEGMENTS")

    media, variants, iframe_variants = [], [], []
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-MEDIA:"):
            attrs = attributes(line.split(":", 1)[1])
            for key in ("TYPE", "GROUP-ID", "NAME"):
                if key not in attrs:
                    error(where, f"EXT-X-MEDIA without {key}")
            media.append(attrs)
        elif line.startswith("#EXT-X-STREAM-INF:"):
            attrs = attributes(line.split(":", 1)[1])
            if index + 1 >= len(lines) or lines[index + 1].startswith("#"):
                error(where, "EXT-X-STREAM-INF not followed by a URI")
                continue
            attrs["URI"] = lines[index + 1]
            variants.append(attrs)
        elif line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
            iframe_variants.append(attributes(line.split(":", 1)[1]))
    groups = {unquote(m.get("GROUP-ID")) for m in media if m.get("TYPE") == "AUDIO"}
    for variant in variants:
        for key in ("BANDWIDTH", "CODECS"):
            if key not in variant:
                error(where, f"variant {variant['URI']} without {key}")
        if "RESOLUTION" in variant and not re.fullmatch(r"\d+x\d+", variant["RESOLUTION"]):
            error(where, f"bad RESOLUTION {variant['RESOLUTION']}")
        if "FRAME-RATE" in variant and not re.fullmatch(r"\d+(\.\d{1,3})?", variant["FRAME-RATE"]):
            error(where, f"FRAME-RATE must have at most three decimals: {variant['FRAME-RATE']}")
        if "AUDIO" in variant and unquote(variant["AUDIO"]) not in groups:
            error(where, f"variant {variant['URI']} names an audio group that does not exist")
        if "AVERAGE-BANDWIDTH" in variant and int(variant["AVERAGE-BANDWIDTH"]) > int(variant.get("BANDWIDTH", 0)):
            error(where, f"variant {variant['URI']}: AVERAGE-BANDWIDTH above BANDWIDTH")
    for variant in iframe_variants:
        for key in ("BANDWIDTH", "URI"):
            if key not in variant:
                error(where, f"I-frame variant without {key}")
    return media, variants, iframe_variants


def parse_media(path, target_limit, iframes_only=False):
    """Checks one media playlist; returns its segments as dicts (uri, duration, byterange)."""
    where = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    lines = [line.strip() for line in open(path, encoding="utf-8").read().splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        error(where, "does not start with #EXTM3U")
    for line in lines:
        if line.startswith("#EXT") and tag_name(line) not in MEDIA_TAGS:
            error(where, f"tag not allowed in a media playlist: {tag_name(line)}")
    targets = [line for line in lines if line.startswith("#EXT-X-TARGETDURATION:")]
    if len(targets) != 1:
        error(where, "needs exactly one EXT-X-TARGETDURATION")
        return [], None
    target = int(targets[0].split(":", 1)[1])
    if "#EXT-X-ENDLIST" not in lines or "#EXT-X-PLAYLIST-TYPE:VOD" not in lines:
        error(where, "a VOD playlist needs EXT-X-PLAYLIST-TYPE:VOD and EXT-X-ENDLIST")
    if ("#EXT-X-I-FRAMES-ONLY" in lines) != iframes_only:
        error(where, "EXT-X-I-FRAMES-ONLY present where it should not be, or missing")
    maps = [unquote(attributes(line.split(":", 1)[1]).get("URI")) for line in lines if line.startswith("#EXT-X-MAP:")]

    required = 1
    if any(line.startswith("#EXTINF:") and "." in line.split(":", 1)[1].split(",")[0] for line in lines):
        required = max(required, 3)
    if iframes_only or any(line.startswith("#EXT-X-BYTERANGE") for line in lines):
        required = max(required, 4)
    if maps:
        required = max(required, 5 if iframes_only else 6)
    version = declared_version(lines, where)
    if version != required:
        error(where, f"EXT-X-VERSION {version}, but the lowest the tags allow is {required}")

    segments, duration, byterange, offset = [], None, None, {}
    for line in lines:
        if line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            value = line.split(":", 1)[1]
            length, _, start = value.partition("@")
            byterange = (int(length), int(start) if start else None)
        elif not line.startswith("#"):
            if duration is None:
                error(where, f"{line} has no EXTINF")
                continue
            if duration <= 0:
                error(where, f"{line}: EXTINF {duration} is not a positive duration")
            if rounded(duration) > target:
                error(where, f"{line}: EXTINF {duration} rounds above EXT-X-TARGETDURATION {target}")
            if target_limit is not None and not iframes_only and duration > target_limit + 0.5:
                error(where, f"{line}: {duration} s is over the target {target_limit} by more than 0.5 s")
            if byterange and byterange[1] is None:
                byterange = (byterange[0], offset.get(line, 0))
            if byterange:
                offset[line] = byterange[1] + byterange[0]
            start = segments[-1]["end"] if segments else 0.0
            segments.append({"uri": line, "duration": duration, "byterange": byterange, "start": start, "end": start + duration})
            duration, byterange = None, None
    return segments, (maps[0] if maps else None)


def nal_type(header, codec):
    return (header >> 1) & 0x3F if codec == "hevc" else header & 0x1F


def nal_types(hexdata, annexb, codec="h264"):
    data = bytes.fromhex(hexdata)
    types = []
    if annexb:
        for match in re.finditer(b"\x00\x00\x01", data):
            if match.end() < len(data):
                types.append(nal_type(data[match.end()], codec))
    else:
        at = 0
        while at + 4 < len(data):
            length = int.from_bytes(data[at:at + 4], "big")
            types.append(nal_type(data[at + 4], codec))
            at += 4 + length
    return types


# What a random access point's first picture must be: H.264 IDR (5); HEVC IDR_W_RADL/IDR_N_LP (19, 20).
IDR_TYPES = {"h264": {5}, "hevc": {19, 20}}
CODEC_OF_PREFIX = {"avc1": "h264", "hvc1": "hevc", "av01": "av1"}


def video_codec_of(codecs):
    """The video codec a CODECS attribute names (None for audio only)."""
    for entry in codecs.split(","):
        codec = CODEC_OF_PREFIX.get(entry.strip()[:4])
        if codec:
            return codec, entry.strip()
    return None, None


def find_box(data, name):
    """The body of the first box called `name` anywhere in `data` (boxes nest in sample entries)."""
    at = data.find(name.encode())
    if at < 4:
        return None
    size = int.from_bytes(data[at - 4:at], "big")
    return data[at + 4:at - 4 + size] if size >= 8 else None


def codec_string_from_init(init_path, codec):
    """RFC 6381 names written from the decoder configuration records, as the specs define them:
    ISO/IEC 14496-15 annex E for hvcC, av1-isobmff section 5 for av1C, the SPS bytes for avcC."""
    data = open(init_path, "rb").read()
    if codec == "h264":
        body = find_box(data, "avcC")
        return f"avc1.{body[1]:02x}{body[2]:02x}{body[3]:02x}" if body else None
    if codec == "hevc":
        body = find_box(data, "hvcC")
        if not body or len(body) < 13:
            return None
        space = ["", "A", "B", "C"][body[1] >> 6]
        flags = int.from_bytes(body[2:6], "big")
        reversed_flags = int(f"{flags:032b}"[::-1], 2)
        constraints = list(body[6:12])
        while constraints and constraints[-1] == 0:
            constraints.pop()
        tier = "H" if body[1] & 0x20 else "L"
        return ".".join([f"hvc1", f"{space}{body[1] & 0x1F}", f"{reversed_flags:X}", f"{tier}{body[12]}"] + [f"{c:X}" for c in constraints])
    if codec == "av1":
        body = find_box(data, "av1C")
        if not body or len(body) < 4:
            return None
        depth = (12 if body[2] & 0x20 else 10) if body[2] & 0x40 else 8
        return f"av01.{body[1] >> 5}.{body[1] & 0x1F:02d}{'H' if body[2] & 0x80 else 'M'}.{depth:02d}"
    return None


def packet_data(path):
    """The first video packet's bytes as ffprobe shows them (hex)."""
    text = ffprobe(["-select_streams", "v:0", "-show_packets", "-show_data", "-read_intervals", "%+#1", "-of", "json", path])
    packets = json.loads(text).get("packets", [])
    if not packets:
        return None
    dump = packets[0].get("data", "")
    # Lines of "offset: hex hex ... ascii"; eight groups of four hex digits per line.
    return "".join(part for line in dump.splitlines() if ":" in line
                   for part in line.split(":", 1)[1].strip().split(" ")[:8])


def probe_segment(directory, init, segment, byterange=None, codec="h264"):
    """Writes init + segment (or its byte range) to a temporary file and probes it."""
    with open(os.path.join(directory, segment["uri"]), "rb") as handle:
        if byterange:
            handle.seek(byterange[1])
            body = handle.read(byterange[0])
        else:
            body = handle.read()
    prefix = open(os.path.join(directory, init), "rb").read() if init else b""
    suffix = ".mp4" if init else ".ts"
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        handle.write(prefix + body)
        name = handle.name
    try:
        streams = json.loads(ffprobe(["-show_entries", "stream=codec_type,codec_name,codec_tag_string,width,height,profile,level",
                                      "-of", "json", name]))["streams"]
        frames = json.loads(ffprobe(["-select_streams", "v:0", "-show_entries", "frame=pts_time,key_frame,pict_type",
                                     "-of", "json", name]).strip() or "{}").get("frames", []) if any(
            s["codec_type"] == "video" for s in streams) else []
        packets = json.loads(ffprobe(["-show_entries", "packet=codec_type,pts_time,duration_time,flags", "-of", "json", name]))["packets"]
        first_nals = None
        if frames and codec in IDR_TYPES:
            data = packet_data(name)
            if data:
                first_nals = nal_types(data, annexb=not init, codec=codec)
        return {"streams": streams, "frames": frames, "packets": packets, "first_nals": first_nals}
    finally:
        os.unlink(name)


def media_duration(packets, kind):
    chosen = [p for p in packets if p["codec_type"] == kind and "pts_time" in p]
    if not chosen:
        return 0, None, None
    start = min(float(p["pts_time"]) for p in chosen)
    end = max(float(p["pts_time"]) + float(p.get("duration_time", 0) or 0) for p in chosen)
    return end - start, start, end


def check_rendition(directory, playlist, target_limit, variant, expect_video):
    where = playlist
    segments, init = parse_media(os.path.join(directory, playlist), target_limit)
    base = os.path.dirname(os.path.join(directory, playlist))
    keyframes, peak, total_bits, total_time = [], 0, 0, 0
    info = {"segments": len(segments), "keyframes": keyframes}
    codec, named = video_codec_of(unquote(variant.get("CODECS", ""))) if variant else (None, None)
    codec = codec or "h264"
    if expect_video and codec != "h264" and not init:
        error(where, f"{codec} needs fMP4 segments (EXT-X-MAP)")
    if expect_video and init:
        # CODECS must be what the decoder configuration in the init segment says.
        actual = codec_string_from_init(os.path.join(base, init), codec)
        if actual != named:
            error(where, f"CODECS names {named} but the init segment's configuration is {actual}")
        info["codec_from_init"] = actual
    for segment in segments:
        probed = probe_segment(base, init, segment, codec=codec)
        size = os.path.getsize(os.path.join(base, segment["uri"]))
        total_bits += size * 8
        total_time += segment["duration"]
        if segment["duration"] > 0:
            peak = max(peak, size * 8 / segment["duration"])
        kinds = {s["codec_type"]: s for s in probed["streams"]}
        if expect_video:
            video = kinds.get("video")
            if not video:
                error(where, f"{segment['uri']} has no video")
                continue
            if video["codec_name"] != codec:
                error(where, f"{segment['uri']} is {video['codec_name']}, not {codec}")
            if codec == "hevc" and video.get("codec_tag_string") != "hvc1":
                error(where, f"{segment['uri']}: HEVC sample entry is {video.get('codec_tag_string')}, not hvc1")
            info["codec"], info["profile"], info["level"] = video["codec_name"], video.get("profile"), video.get("level")
            # The decoder's own reading of the bitstream agrees with the level CODECS names.
            if named and codec == "hevc" and not named.split(".")[3].endswith(str(video.get("level"))):
                error(where, f"{segment['uri']}: CODECS {named} but the decoder reads level {video.get('level')}")
            if named and codec == "av1" and int(named.split(".")[2][:2]) != video.get("level"):
                error(where, f"{segment['uri']}: CODECS {named} but the decoder reads seq_level_idx {video.get('level')}")
            if named and codec == "h264" and int(named[9:11], 16) != video.get("level"):
                error(where, f"{segment['uri']}: CODECS {named} but the decoder reads level {video.get('level')}")
            if variant and "RESOLUTION" in variant and variant["RESOLUTION"] != f"{video['width']}x{video['height']}":
                error(where, f"{segment['uri']} is {video['width']}x{video['height']}, the master says {variant['RESOLUTION']}")
            frames = probed["frames"]
            if not frames or frames[0].get("key_frame") != 1 or frames[0].get("pict_type") != "I":
                error(where, f"{segment['uri']} does not start with a keyframe")
            if probed["first_nals"] is not None and not IDR_TYPES[codec] & set(probed["first_nals"]):
                error(where, f"{segment['uri']} starts with a keyframe that is not an IDR (NAL types {probed['first_nals']})")
            keyframes.extend(round(float(f["pts_time"]), 3) for f in frames if f.get("key_frame") == 1)
            length, video_start, _ = media_duration(probed["packets"], "video")
            info["width"], info["height"] = video["width"], video["height"]
            if "audio" in kinds:
                # Muxed audio belongs with the video of its segment (within a few AAC frames).
                _, audio_start, _ = media_duration(probed["packets"], "audio")
                if audio_start is not None and video_start is not None and abs(audio_start - video_start) > 0.1:
                    error(where, f"{segment['uri']}: audio starts at {audio_start:.3f} s, its video at {video_start:.3f} s")
        else:
            length, _, _ = media_duration(probed["packets"], "audio")
            if "audio" not in kinds:
                error(where, f"{segment['uri']} has no audio")
        # The EXTINF is the segment's own duration, within a frame (audio packets are ~21 ms).
        if abs(length - segment["duration"]) > 0.045:
            error(where, f"{segment['uri']}: EXTINF {segment['duration']} but the media lasts {length:.3f} s")
    info["peak_bitrate"] = peak
    info["average_bitrate"] = total_bits / total_time if total_time else 0
    return info


def check_iframes(directory, playlist, variant):
    segments, init = parse_media(os.path.join(directory, playlist), None, iframes_only=True)
    base = os.path.dirname(os.path.join(directory, playlist))
    times = []
    for segment in segments:
        if not segment["byterange"]:
            error(playlist, f"{segment['uri']} has no byte range")
            continue
        probed = probe_segment(base, init, segment, segment["byterange"])
        frames = probed["frames"]
        if len(frames) != 1 or frames[0].get("pict_type") != "I":
            error(playlist, f"byte range {segment['byterange']} of {segment['uri']} decodes to {len(frames)} frames, not one I-frame")
        elif "RESOLUTION" in variant:
            video = [s for s in probed["streams"] if s["codec_type"] == "video"][0]
            if variant["RESOLUTION"] != f"{video['width']}x{video['height']}":
                error(playlist, "I-frame size differs from the variant's RESOLUTION")
        if frames:
            times.append(round(float(frames[0]["pts_time"]), 3))
    return times


def onsets(values, threshold, minimum_gap):
    """Times where a signal rises above the threshold after having been below it."""
    found, below = [], True
    for time, value in values:
        if value > threshold and below:
            if not found or time - found[-1] > minimum_gap:
                found.append(time)
            below = False
        elif value <= threshold:
            below = True
    return found


def measure_sync(master):
    """Flash onsets (mean luma) against beep onsets (RMS over 128 samples) in the decoded package."""
    video = subprocess.run(["ffmpeg", "-v", "info", "-nostats", "-i", master, "-map", "0:v:0", "-vf",
                            "scale=32:18,format=gray,showinfo", "-f", "null", "-"], capture_output=True, text=True).stderr
    frames = []
    for line in video.splitlines():
        match = re.search(r"pts_time:([0-9.]+).*mean:\[(\d+)", line)
        if match:
            frames.append((float(match.group(1)), int(match.group(2))))
    audio = subprocess.run(["ffmpeg", "-v", "error", "-nostats", "-i", master, "-map", "0:a:0", "-af",
                            "asetnsamples=n=128,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level:file=-",
                            "-f", "null", "-"], capture_output=True, text=True).stdout
    windows, time = [], None
    for line in audio.splitlines():
        match = re.search(r"pts_time:([0-9.]+)", line)
        if match:
            time = float(match.group(1))
        match = re.search(r"RMS_level=(-?[0-9.inf]+)", line)
        if match and time is not None:
            level = float(match.group(1)) if "inf" not in match.group(1) else -200.0
            windows.append((time, level))
    flashes = onsets(frames, 128, 0.5)
    beeps = onsets(windows, -30, 0.5)
    frame_s = (frames[1][0] - frames[0][0]) if len(frames) > 1 else 1 / 30
    return {"flashes": flashes, "beeps": beeps, "frame_s": frame_s,
            "drifts": [round(b - f, 4) for f, b in zip(flashes, beeps)]}


def tone_frequency(playlist):
    """The frequency of the tone in a rendition (zero crossings of its first second, decoded by ffmpeg)."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", playlist, "-t", "1", "-ac", "1", "-f", "s16le", "-"],
                            capture_output=True)
    samples = memoryview(result.stdout).cast("h") if len(result.stdout) >= 4 else []
    rate = 48000 if "48000" in ffprobe(["-select_streams", "a:0", "-show_entries", "stream=sample_rate", "-of", "csv=p=0", playlist]) else 44100
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return round(crossings / 2 / (len(samples) / rate)) if len(samples) else None


def check_subtitles(directory, item):
    """A WebVTT subtitle rendition: its playlist, every segment a WebVTT file with an X-TIMESTAMP-MAP,
    and its cues (repeated across segments, counted once) in presentation time (LOCAL + MPEGTS offset
    minus the video's own timeline offset is left to the caller: times are reported as written)."""
    uri = unquote(item.get("URI", ""))
    where = uri
    info = {"uri": uri, "language": unquote(item.get("LANGUAGE", "")) or None, "name": unquote(item.get("NAME", "")),
            "default": item.get("DEFAULT") == "YES", "cues": [], "mpegts": None}
    segments, init = parse_media(os.path.join(directory, uri), None)
    if init:
        error(where, "a WebVTT playlist has no EXT-X-MAP")
    base = os.path.dirname(os.path.join(directory, uri))
    seen = set()
    for segment in segments:
        text = open(os.path.join(base, segment["uri"]), encoding="utf-8").read()
        if not text.startswith("WEBVTT"):
            error(where, f"{segment['uri']} does not start with WEBVTT")
            continue
        match = re.search(r"X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:([\d:.]+)", text)
        if not match:
            error(where, f"{segment['uri']} has no X-TIMESTAMP-MAP")
        else:
            info["mpegts"] = int(match.group(1))
        for cue in re.finditer(r"([\d:.]+) --> ([\d:.]+)[^\n]*\n((?:.+\n?)+)", text):
            start, end = vtt_seconds(cue.group(1)), vtt_seconds(cue.group(2))
            key = (round(start, 3), round(end, 3), cue.group(3).strip())
            if start >= segment["end"] or end <= segment["start"]:
                error(where, f"{segment['uri']} ({segment['start']:.3f}-{segment['end']:.3f} s) holds a cue at {start}-{end} s outside it")
            if key not in seen:
                seen.add(key)
                info["cues"].append(list(key))
    return info


def vtt_seconds(text):
    total = 0.0
    for field in text.split(":"):
        total = total * 60 + float(field)
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("master")
    parser.add_argument("--target", type=float)
    parser.add_argument("--sync", action="store_true")
    args = parser.parse_args()
    directory = os.path.dirname(os.path.abspath(args.master))
    facts = {"variants": [], "audio": None}
    media, variants, iframe_variants = check_master(args.master)

    audio_info = None
    audio_media = [m for m in media if m.get("TYPE") == "AUDIO" and "URI" in m]
    facts["audios"] = []
    for item in audio_media:
        info = check_rendition(directory, unquote(item["URI"]), args.target, None, expect_video=False)
        info.update({"uri": unquote(item["URI"]), "language": unquote(item.get("LANGUAGE", "")) or None,
                     "name": unquote(item.get("NAME", "")), "default": item.get("DEFAULT") == "YES",
                     "frequency_hz": tone_frequency(os.path.join(directory, unquote(item["URI"])))})
        facts["audios"].append(info)
        # BANDWIDTH of a variant must cover its largest audio rendition.
        if audio_info is None or info["peak_bitrate"] > audio_info["peak_bitrate"]:
            audio_info = info
        facts["audio"] = audio_info
    if audio_media and sum(1 for m in audio_media if m.get("DEFAULT") == "YES") != 1:
        error("master.m3u8", "the audio group needs exactly one DEFAULT=YES rendition")
    facts["subtitles"] = [check_subtitles(directory, item) for item in media if item.get("TYPE") == "SUBTITLES"]
    subtitle_groups = {unquote(m.get("GROUP-ID")) for m in media if m.get("TYPE") == "SUBTITLES"}
    for variant in variants:
        if subtitle_groups and unquote(variant.get("SUBTITLES", "")) not in subtitle_groups:
            error("master.m3u8", f"variant {variant['URI']} does not name the subtitle group")
    for variant in variants:
        codecs = unquote(variant.get("CODECS", ""))
        expect_video = video_codec_of(codecs)[0] is not None
        info = check_rendition(directory, variant["URI"], args.target, variant, expect_video)
        info.update({"uri": variant["URI"], "codecs": codecs, "resolution": variant.get("RESOLUTION"),
                     "bandwidth": int(variant.get("BANDWIDTH", 0)), "average_bandwidth": int(variant.get("AVERAGE-BANDWIDTH", 0))})
        peak = info["peak_bitrate"] + (audio_info["peak_bitrate"] if audio_info and "AUDIO" in variant else 0)
        average = info["average_bitrate"] + (audio_info["average_bitrate"] if audio_info and "AUDIO" in variant else 0)
        # BANDWIDTH must cover the peak segment bit rate; AVERAGE-BANDWIDTH must be the measured one.
        if info["bandwidth"] < peak * 0.999:
            error("master.m3u8", f"{variant['URI']}: BANDWIDTH {info['bandwidth']} below the measured peak {peak:.0f}")
        if info["average_bandwidth"] and abs(info["average_bandwidth"] - average) > average * 0.02:
            error("master.m3u8", f"{variant['URI']}: AVERAGE-BANDWIDTH {info['average_bandwidth']} but measured {average:.0f}")
        facts["variants"].append(info)
    for variant in iframe_variants:
        uri = unquote(variant["URI"])
        times = check_iframes(directory, uri, variant)
        owner = next((v for v in facts["variants"] if os.path.dirname(v["uri"]) == os.path.dirname(uri)), None)
        if owner is not None:
            owner["iframe_times"] = times
            if owner.get("keyframes") and times != owner["keyframes"]:
                error(uri, f"I-frames at {times} but the keyframes of the rendition are at {owner['keyframes']}")
    video_variants = [v for v in facts["variants"] if v.get("keyframes")]
    for variant in video_variants[1:]:
        if variant["keyframes"] != video_variants[0]["keyframes"]:
            error("master.m3u8", f"keyframes of {variant['uri']} differ from those of {video_variants[0]['uri']}")
    if args.sync:
        facts["sync"] = measure_sync(args.master)
    json.dump({"errors": errors, "facts": facts}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a judge that cannot read the package fails it
        import traceback; traceback.print_exc(file=sys.stderr)
        json.dump({"errors": errors + [f"judge: {exc!r}"], "facts": {}}, sys.stdout)
        sys.stdout.write("\n")
