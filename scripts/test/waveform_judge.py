"""An independent judge of a waveform (BBC audiowaveform JSON, version 2): decodes the source's
first audio stream with the ffmpeg CLI, mixed to mono at the waveform's sample rate, computes the
min/max of every samples_per_pixel samples itself and compares. Prints a JSON verdict:
{"format_errors": [...], "length": N, "expected_length": M, "max_difference": D, "mismatches": K}.

usage: waveform_judge.py WAVEFORM_JSON SOURCE [--tolerance T]
"""
import array
import json
import subprocess
import sys

path, source = sys.argv[1], sys.argv[2]
tolerance = float(sys.argv[sys.argv.index("--tolerance") + 1]) if "--tolerance" in sys.argv else 2
waveform = json.load(open(path))
errors = []
for key, kind in [("version", int), ("channels", int), ("sample_rate", int), ("samples_per_pixel", int), ("bits", int), ("length", int),
                  ("data", list)]:
    if not isinstance(waveform.get(key), kind):
        errors.append(f"{key} missing or not {kind.__name__}")
if errors:
    print(json.dumps({"format_errors": errors}))
    sys.exit(0)
if waveform["version"] != 2 or waveform["channels"] != 1:
    errors.append("version 2 with one channel expected")
if waveform["bits"] not in (8, 16):
    errors.append("bits must be 8 or 16")
if len(waveform["data"]) != 2 * waveform["length"]:
    errors.append(f"data has {len(waveform['data'])} values for length {waveform['length']}")
scale = 127 if waveform["bits"] == 8 else 32767
low_limit = -128 if waveform["bits"] == 8 else -32768
if any(not isinstance(v, int) or v < low_limit or v > scale for v in waveform["data"]):
    errors.append("a value out of range")

pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", source, "-map", "0:a:0", "-ac", "1", "-ar", str(waveform["sample_rate"]),
                      "-f", "f32le", "-"], capture_output=True, check=True).stdout
samples = array.array("f")
samples.frombytes(pcm)
per = waveform["samples_per_pixel"]
expected = []
for start in range(0, len(samples), per):
    window = samples[start:start + per]
    for value in (min(window), max(window)):
        expected.append(max(low_limit, min(scale, round(value * scale))))
ours = waveform["data"]
differences = [abs(a - b) for a, b in zip(ours, expected)]
print(json.dumps({
    "format_errors": errors,
    "length": waveform["length"],
    "expected_length": len(expected) // 2,
    "max_difference": max(differences) if differences else None,
    "mismatches": sum(1 for d in differences if d > tolerance),
}))
