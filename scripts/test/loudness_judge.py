"""An independent judge of loudness: decodes a file's (or an HLS playlist's) first audio stream
with the ffmpeg CLI and measures it with PyPI pyloudnorm (ITU-R BS.1770 integrated loudness) and a
4x-oversampled true peak (scipy). Prints {"integrated_lufs", "true_peak_db", "seconds"}.

usage: loudness_judge.py FILE
"""
import json
import subprocess
import sys

import numpy
import pyloudnorm
from scipy.signal import resample_poly

source = sys.argv[1]
rate = 48000
# An HLS playlist's segments may have any extension (fMP4 .m4s).
playlist = ["-allowed_extensions", "ALL"] if source.endswith(".m3u8") else []
pcm = subprocess.run(["ffmpeg", "-v", "error", *playlist, "-i", source, "-map", "0:a:0", "-ar", str(rate),
                      "-f", "f32le", "-acodec", "pcm_f32le", "-"], capture_output=True, check=True).stdout
channels = int(subprocess.run(["ffprobe", "-v", "error", *playlist, "-select_streams", "a:0", "-show_entries",
                               "stream=channels", "-of", "csv=p=0", source], capture_output=True, text=True, check=True).stdout.split()[0])
samples = numpy.frombuffer(pcm, dtype=numpy.float32).reshape(-1, channels).astype(numpy.float64)
loudness = pyloudnorm.Meter(rate).integrated_loudness(samples)
peak = max(numpy.max(numpy.abs(resample_poly(samples[:, c], 4, 1))) for c in range(channels))
print(json.dumps({"integrated_lufs": loudness, "true_peak_db": 20 * numpy.log10(peak) if peak > 0 else None,
                  "seconds": len(samples) / rate}))
