#!/usr/bin/env bash
# Generates the fixture corpus into Fixtures/.cache with the ffmpeg CLI (a test-time tool;
# the worker itself never runs it). Deterministic inputs (lavfi sources, fixed seeds,
# bitexact flags), cached: rerunning is a no-op unless this script changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/.cache"
stamp="$out/.generated-by"
want="$(sha256sum "$0" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
for tool in ffmpeg espeak-ng python3; do
  command -v "$tool" >/dev/null || { echo "Fixtures: '$tool' is missing; run 'make deps' (apt-get install ffmpeg espeak-ng)" >&2; exit 1; }
done
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
cd "$out.tmp"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
bx=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)
x264=(-c:v libx264 -preset veryfast -threads 2)
echo "Fixtures: generating into $out" >&2

# --- good inputs ---
ff -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=10" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" \
   "${x264[@]}" -pix_fmt yuv420p -g 60 -c:a aac -b:a 128k -ac 2 "${bx[@]}" -movflags +faststart h264-aac-1080p30-10s.mp4
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=4" "${x264[@]}" -pix_fmt yuv420p "${bx[@]}" h264-720p-noaudio.mp4
ff -f lavfi -i "sine=frequency=330:sample_rate=44100:duration=5" -c:a aac -b:a 96k "${bx[@]}" audio-only.m4a
ff -f lavfi -i "sine=frequency=550:sample_rate=48000:duration=3" -ac 2 -c:a pcm_s16le "${bx[@]}" audio-only.wav
# A phone clip: 1280x720 coded with a display matrix that turns it 90° clockwise, shown
# 720x1280 (ffprobe: rotation -90). ffmpeg 5.1 sets the matrix from the tag on stream copy only.
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=3" -f lavfi -i "sine=duration=3" \
   "${x264[@]}" -pix_fmt yuv420p -c:a aac "${bx[@]}" landscape.tmp.mp4
ff -i landscape.tmp.mp4 -c copy -metadata:s:v:0 rotate=270 "${bx[@]}" portrait-rotate90.mp4; rm landscape.tmp.mp4
# Odd dimensions need 4:4:4 in H.264 (4:2:0 requires even sizes); testsrc2 itself rounds to even.
ff -f lavfi -i "testsrc2=size=854x480:rate=25:duration=2" -vf scale=853:479,setsar=1 "${x264[@]}" -pix_fmt yuv444p "${bx[@]}" odd-853x479.mp4
# Interlaced, top field first, coded as fields.
ff -f lavfi -i "testsrc2=size=720x576:rate=50:duration=2" -vf "tinterlace=mode=interleave_top,setfield=tff" \
   "${x264[@]}" -flags +ildct+ilme -x264opts tff=1 -pix_fmt yuv420p "${bx[@]}" interlaced-576i.mp4
# Variable frame rate: a third of the frames dropped, timestamps kept.
ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=4" -f lavfi -i "sine=duration=4" \
   -vf "select='not(between(mod(n\,30)\,10\,19))'" -fps_mode vfr "${x264[@]}" -pix_fmt yuv420p -c:a aac "${bx[@]}" vfr.mp4
ff -f lavfi -i "testsrc2=size=640x360:rate=25:duration=2" -f lavfi -i "sine=duration=2" \
   -c:v libx265 -preset ultrafast -x265-params log-level=error -pix_fmt yuv420p -c:a aac "${bx[@]}" hevc.mkv
ff -f lavfi -i "testsrc2=size=640x360:rate=25:duration=2" -f lavfi -i "sine=sample_rate=48000:duration=2" \
   -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k -c:a libopus "${bx[@]}" vp9-opus.webm
ff -f lavfi -i "testsrc2=size=640x360:rate=25:duration=2" "${x264[@]}" -pix_fmt yuv420p10le "${bx[@]}" h264-10bit.mp4
# Anamorphic: 720x480 stored, 32:27 pixels (a 16:9 DVD frame).
ff -f lavfi -i "testsrc2=size=720x480:rate=30:duration=2" -vf "setsar=32/27" "${x264[@]}" -pix_fmt yuv420p "${bx[@]}" anamorphic-720x480.mp4
# A/V sync probe: a white flash and a beep in the first 0.1 s of every second, the frame rate
# variable (frames 10-19 of each second dropped, timestamps kept), audio at 44.1 kHz.
ff -f lavfi -i "color=c=black:size=320x180:rate=30:duration=4,drawbox=c=white:t=fill:enable='lt(mod(t\,1)\,0.1)'" \
   -f lavfi -i "sine=frequency=1000:sample_rate=44100:duration=4,volume=volume=0:enable='gte(mod(t\,1)\,0.1)'" \
   -vf "select='not(between(mod(n\,30)\,10\,19))'" -fps_mode vfr "${x264[@]}" -pix_fmt yuv420p -c:a aac "${bx[@]}" vfr-sync.mp4
# The same sync probe, 90 s at 640x360: a transcode split into chunks is judged at every join.
ff -f lavfi -i "color=c=black:size=640x360:rate=30:duration=90,drawbox=c=white:t=fill:enable='lt(mod(t\,1)\,0.1)',drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='%{n}':x=20:y=20:fontsize=48:fontcolor=gray" \
   -f lavfi -i "sine=frequency=1000:sample_rate=44100:duration=90,volume=volume=0:enable='gte(mod(t\,1)\,0.1)'" \
   -vf "select='not(between(mod(n\,30)\,10\,19))'" -fps_mode vfr "${x264[@]}" -pix_fmt yuv420p -c:a aac "${bx[@]}" sync-90s.mp4
# Keyframes 12 s apart: too far for 6 s segments, so HLS cannot be a stream copy.
ff -f lavfi -i "testsrc2=size=320x180:rate=30:duration=12" -f lavfi -i "sine=duration=12" \
   "${x264[@]}" -g 360 -pix_fmt yuv420p -c:a aac "${bx[@]}" h264-long-gop.mp4
ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=0.5" -f lavfi -i "sine=duration=0.5" \
   "${x264[@]}" -pix_fmt yuv420p -c:a aac -shortest "${bx[@]}" short-0.5s.mp4
# Muxed audio that ends after 1 s of a 60 s video, and an audio stream with no packets at all:
# rungs waiting for audio must not hold the rest of the video in memory.
ff -f lavfi -i "testsrc2=size=320x180:rate=30:duration=60" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" \
   "${x264[@]}" -pix_fmt yuv420p -c:a aac "${bx[@]}" audio-ends-early.mp4
ff -f lavfi -i "testsrc2=size=320x180:rate=30:duration=60" -f lavfi -i "anullsrc=r=48000:cl=stereo" \
   -filter_complex "[1:a]atrim=end=0[a]" -map 0:v -map "[a]" "${x264[@]}" -pix_fmt yuv420p -c:a aac "${bx[@]}" audio-empty.mkv
# Audio with a 39 s hole (packets at 0-1 s and 40-41 s) under 60 s of video.
ff -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -c:a aac "${bx[@]}" gap-part.tmp.m4a
printf "file 'gap-part.tmp.m4a'\nduration 40\nfile 'gap-part.tmp.m4a'\n" > gap.tmp.txt
ff -f lavfi -i "testsrc2=size=320x180:rate=30:duration=60" -f concat -safe 0 -i gap.tmp.txt -map 0:v -map 1:a \
   "${x264[@]}" -pix_fmt yuv420p -c:a copy "${bx[@]}" audio-gap.mp4; rm gap-part.tmp.m4a gap.tmp.txt
# Many keyframes (every 0.5 s for 6 s): a keyframes job announcing any of them twice shows.
ff -f lavfi -i "testsrc2=size=320x180:rate=30:duration=6" "${x264[@]}" -g 15 -keyint_min 15 -sc_threshold 0 -pix_fmt yuv420p \
   "${bx[@]}" keyframes-many.mp4
# Several tracks, 12 s at 640x360: English audio (440 Hz, the default) and French audio (660 Hz),
# an English SubRip stream, and a French sidecar .srt beside it.
cat > subs-en.tmp.srt <<'SRT'
1
00:00:01,000 --> 00:00:03,500
Hello from the first cue.

2
00:00:05,000 --> 00:00:07,250
The second cue <i>speaks</i> & wraps.

3
00:00:09,500 --> 00:00:11,000
Last words.
SRT
cat > subs-fr.srt <<'SRT'
1
00:00:02,000 --> 00:00:04,000
Bonjour, première réplique.

2
00:00:08,000 --> 00:00:10,500
Deuxième réplique.
SRT
ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=12" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=12" \
   -f lavfi -i "sine=frequency=660:sample_rate=48000:duration=12" -i subs-en.tmp.srt -map 0:v -map 1:a -map 2:a -map 3:s \
   "${x264[@]}" -pix_fmt yuv420p -g 60 -c:a aac -ac 2 -c:s srt "${bx[@]}" \
   -metadata:s:a:0 language=eng -metadata:s:a:0 title=English -metadata:s:a:1 language=fra -metadata:s:a:1 title="Français" \
   -metadata:s:s:0 language=eng -disposition:a:0 default -disposition:a:1 0 tracks-12s.mkv; rm subs-en.tmp.srt
ff -f lavfi -i "color=c=red@0.5:size=320x240,format=rgba" -frames:v 1 "${bx[@]}" still-alpha.png
ff -f lavfi -i "testsrc2=size=640x480" -frames:v 1 -q:v 3 "${bx[@]}" still.jpg
espeak-ng -w speech.wav "MediaWorker turns uploads into streamable and searchable media."

# --- bad inputs ---
: > bad-zero-bytes.mp4
# moov at the end, cut before it: no index.
ff -f lavfi -i "testsrc2=size=320x240:rate=25:duration=3" "${x264[@]}" -pix_fmt yuv420p "${bx[@]}" full.tmp.mp4
head -c 20000 full.tmp.mp4 > bad-truncated-no-moov.mp4; rm full.tmp.mp4
# Three sources of very different complexity for the quality report and per-title ladders
# (960x540, 8 s, nearly lossless so the source is the reference): a still slide, a
# talking-head-like scene (a small moving picture on a static background), high-motion noise.
ff -f lavfi -i "testsrc2=size=960x540:rate=1" -frames:v 1 "${bx[@]}" slide.tmp.png
ff -loop 1 -framerate 30 -i slide.tmp.png -t 8 "${x264[@]}" -crf 8 -pix_fmt yuv420p "${bx[@]}" quality-still.mp4; rm slide.tmp.png
ff -f lavfi -i "smptehdbars=size=960x540:rate=30" -f lavfi -i "testsrc2=size=240x240:rate=30" \
   -filter_complex "[0:v][1:v]overlay=x=360+40*sin(t):y=150" -t 8 "${x264[@]}" -crf 8 -pix_fmt yuv420p "${bx[@]}" quality-low-motion.mp4
ff -f lavfi -i "testsrc2=size=960x540:rate=30" -vf "noise=alls=12:allf=t" -t 8 "${x264[@]}" -crf 12 -pix_fmt yuv420p "${bx[@]}" quality-noise.mp4
python3 - <<'PY'
import random, struct, zlib
rng = random.Random(555)
open("bad-random-bytes.mp4", "wb").write(bytes(rng.getrandbits(8) for _ in range(65536)))
open("bad-text-file.mp4", "w").write("This is a text file, not a video.\n" * 40)
# The classic local-file read: an HLS playlist named like a video.
open("bad-disguised-playlist.mp4", "w").write(
    "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
# A PNG whose header declares 100000x100000 pixels.
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
idat = zlib.compress(b"\x00" + b"\x00" * 300)
open("bad-absurd-dimensions.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
PY
echo "$want" > .generated-by
cd "$here"; rm -rf "$out"; mv "$out.tmp" "$out"
echo "Fixtures: done" >&2
