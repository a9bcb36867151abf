"""Plays an HLS master (hlsdemux2) or a DASH manifest (dashdemux2) to its end in GStreamer's
playbin3 over HTTP from a private loopback server, as a client nobody here wrote.

Prints JSON: {"ok": bool, "eos": bool, "requests": N, "keys_fetched": [...], "last_segments_fetched": {...}, "error": str}.
"ok" needs an end of stream and, for video and for audio, the last segment of a rendition GStreamer
read fetched (a player that stopped early or skipped the end fails).

usage: gst_play.py ROOT_DIRECTORY RELATIVE_PLAYLIST_PATH [--timeout 300]
(a master, or one media playlist: how an HEVC or AV1 rendition is played by itself)
"""
import argparse
import functools
import http.server
import json
import os
import posixpath
import subprocess
import sys
import threading
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("master")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def send_response(self, code, message=None):
            # Only what was served counts: hlsdemux2 skips a missing segment and still ends.
            if code == 200:
                requests.append(urllib.parse.unquote(urllib.parse.urlparse(self.path).path).lstrip("/"))
            super().send_response(code, message)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=args.root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}/{urllib.parse.quote(args.master)}"
    result = {"ok": False, "eos": False, "uri": uri}
    try:
        run = subprocess.run(["gst-launch-1.0", "playbin3", f"uri={uri}", "video-sink=fakesink sync=false", "audio-sink=fakesink sync=false"],
                             capture_output=True, text=True, timeout=args.timeout)
        result["eos"] = run.returncode == 0 and "Got EOS from element" in run.stdout
        if run.returncode != 0:
            result["error"] = (run.stdout + run.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        result["error"] = f"did not finish in {args.timeout} s"
    finally:
        server.shutdown()
    # Every media playlist fetched must have had its last segment fetched too.
    if args.master.endswith(".mpd"):
        kinds = dash_last_segments(args.root, args.master, set(requests))
        result["requests"] = len(requests)
        result["ended_on_last_segment"] = kinds
        result["ok"] = result["eos"] and "video" in kinds and all(kinds.values())
        print(json.dumps(result))
        sys.exit(0 if result["ok"] else 1)
    # A media playlist given directly (one codec's rendition) counts as a rendition of its own.
    with open(os.path.join(args.root, args.master)) as handle:
        is_master = "#EXT-X-STREAM-INF" in handle.read()
    last = {}
    for path in sorted(set(requests)):
        if path.endswith(".m3u8") and not (is_master and path == posixpath.normpath(args.master)):
            with open(os.path.join(args.root, path)) as handle:
                uris = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
            if uris and "iframes" not in path:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), uris[-1]))
                last[path] = target in requests
    result["requests"] = len(requests)
    result["keys_fetched"] = sorted(path for path in set(requests) if path.endswith(".key"))
    result["last_segments_fetched"] = last
    # A player switches renditions (ABR): per kind (audio, video), the rendition it ended on must
    # have had its last segment fetched.
    kinds = {}
    for path, fetched in last.items():
        kind = "audio" if posixpath.basename(posixpath.dirname(path)).startswith("audio") else "video"
        kinds[kind] = kinds.get(kind, False) or fetched
    result["ended_on_last_segment"] = kinds
    result["ok"] = result["eos"] and "video" in kinds and all(kinds.values())
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


def dash_last_segments(root, manifest, served):
    """Per kind (video, audio, text): whether a representation GStreamer read had the last
    segment of the last period served (dashdemux2 switches representations too)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import dash_judge
    from mpegdash.parser import MPEGDASHParser
    base = posixpath.dirname(manifest)
    mpd = MPEGDASHParser.parse(os.path.join(root, manifest))
    kinds = {}
    last_period = mpd.periods[-1]
    for adaptation in last_period.adaptation_sets:
        kind = adaptation.content_type
        for representation in adaptation.representations:
            templates = representation.segment_templates or adaptation.segment_templates
            if not templates:
                continue  # a side-loaded text file, fetched whole or not at all
            template = templates[0]
            names = [posixpath.normpath(posixpath.join(base, dash_judge.media_name(template.media, representation.id, number)))
                     for number, _, _ in dash_judge.expand(template)]
            if any(name in served for name in names):
                kinds[kind] = kinds.get(kind, False) or names[-1] in served
    return kinds


if __name__ == "__main__":
    main()
