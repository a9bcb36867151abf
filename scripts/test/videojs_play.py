#!/usr/bin/env python3
"""Plays an HLS master or a DASH manifest to its end in Video.js 7 (PyPI js.videojs; its VHS
engine plays both over Media Source Extensions) in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium), served over HTTP from a private loopback server: a client
nobody here wrote, in a browser.

Prints JSON: {"ok": bool, "ended": bool, "current_time": s, "duration": s, "error": ..., "codecs": ...,
"requests": n, "last_segment_served": bool}. "ok" needs the player's own `ended`, a current time
within a second of the duration, no player error, and the last media segment of the video
rendition it ended on served.

usage: videojs_play.py ROOT_DIRECTORY RELATIVE_MANIFEST [--timeout 120] [--rate 4]
"""
import argparse
import functools
import http.server
import json
import os
import shutil
import sys
import threading
import time
import urllib.parse

import js.videojs
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link href="/__videojs/video-js.min.css" rel="stylesheet"></head>
<body><video id="player" class="video-js" muted playsinline preload="auto" width="640" height="360"></video>
<script src="/__videojs/video.min.js"></script>
<script>
window.report = {events: [], error: null};
var player = videojs('player', {html5: {vhs: {overrideNative: true}}});
['loadedmetadata', 'playing', 'ended', 'error'].forEach(function (name) {
  player.on(name, function () { window.report.events.push(name); });
});
player.on('error', function () { var e = player.error(); window.report.error = e ? (e.code + ': ' + e.message) : 'error'; });
player.src({src: %(src)s, type: %(type)s});
player.ready(function () {
  player.playbackRate(%(rate)s);
  var attempt = player.play();
  if (attempt && attempt.catch) attempt.catch(function (e) { window.report.error = 'play(): ' + e; });
});
</script></body></html>
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("manifest")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--rate", type=float, default=4)
    args = parser.parse_args()
    resources = os.path.join(os.path.dirname(js.videojs.__file__), "resources")
    served = []
    kind = "application/dash+xml" if args.manifest.endswith(".mpd") else "application/x-mpegURL"
    page = PAGE % {"src": json.dumps("/" + args.manifest), "type": json.dumps(kind), "rate": args.rate}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def translate_path(self, path):
            clean = urllib.parse.unquote(urllib.parse.urlparse(path).path)
            if clean.startswith("/__videojs/"):
                return os.path.join(resources, os.path.basename(clean))
            return super().translate_path(path)

        def do_GET(self):
            if self.path.startswith("/__player.html"):
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def send_response(self, code, message=None):
            if code == 200:
                served.append(urllib.parse.unquote(urllib.parse.urlparse(self.path).path).lstrip("/"))
            super().send_response(code, message)

    Handler.extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                                  **{".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml",
                                     ".m4s": "video/iso.segment", ".mp4": "video/mp4", ".vtt": "text/vtt"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=args.root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"]:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    result = {"ok": False, "ended": False}
    try:
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/__player.html")
        deadline = time.monotonic() + args.timeout
        state = {}
        while time.monotonic() < deadline:
            state = driver.execute_script("""
                var p = videojs.getPlayer('player'); var vhs = p.tech(true).vhs; var media = null;
                try { media = vhs && vhs.playlists.media(); } catch (e) {}
                return {ended: p.ended(), time: p.currentTime(), duration: p.duration(), error: window.report.error,
                        events: window.report.events, codecs: media && media.attributes ? (media.attributes.CODECS || null) : null,
                        resolution: media && media.attributes && media.attributes.RESOLUTION ? media.attributes.RESOLUTION : null};
            """)
            if state.get("ended") or state.get("error"):
                break
            time.sleep(0.5)
        result.update({"ended": bool(state.get("ended")), "current_time": state.get("time"), "duration": state.get("duration"),
                       "error": state.get("error"), "events": state.get("events"), "codecs": state.get("codecs"),
                       "resolution": state.get("resolution")})
    finally:
        driver.quit()
        server.shutdown()
    media = [path for path in served if path.endswith((".m4s", ".ts"))]
    result["requests"] = len(served)
    result["segments_served"] = len(media)
    # The last segment of the video rendition it played last must have been served.
    last_video = next((path for path in reversed(media) if "/audio" not in "/" + path), None)
    result["last_segment_served"] = False
    if last_video:
        folder = os.path.dirname(last_video)
        names = sorted(name for name in os.listdir(os.path.join(args.root, folder)) if name.endswith((".m4s", ".ts")))
        result["last_video_folder"] = folder
        result["last_segment_served"] = bool(names) and os.path.join(folder, names[-1]) in served
    duration = result.get("duration") or 0
    result["ok"] = (result["ended"] and not result.get("error") and duration > 0
                    and abs((result.get("current_time") or 0) - duration) < 1.0 and result["last_segment_served"])
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
