"""Row (h) of the media benchmark: automatic captions' speech recognition, each engine's real-time
factor on this machine (seconds of work per second of audio), against the same engine run by
hand (Whisper: scripts/asr/whisper_asr.py on a WAV the ffmpeg CLI made; pocketsphinx: the ffmpeg
CLI's asr filter), with the word recall of what each heard (espeak-ng speech of known sentences).

Ours is timed from `TranscodeCompleted`'s data.captions.realtime_factor (extraction of the audio
included); its peak RSS is the worker process's (the Whisper program's own is printed apart).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "test"))
from asr_judge import words  # noqa: E402

SENTENCES = [
    "Every upload becomes a stream that anyone can watch.",
    "Players show the captions under the picture.",
    "Good captions help people who cannot hear the sound.",
    "The worker reads the file once and writes every rendition.",
    "Search engines find a video by the words spoken in it.",
    "A long recording is split into parts that the whole pool encodes.",
]
MODEL = "/usr/share/pocketsphinx/model/en-us"


def speech_source(directory, seconds_wanted):
    """espeak-ng sentences (140 words a minute) with 0.7 s pauses, muxed with a still picture."""
    parts, text, total, index = [], [], 0.0, 0
    while total < seconds_wanted:
        sentence = SENTENCES[index % len(SENTENCES)]
        wav = os.path.join(directory, f"s{index}.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", wav, sentence], check=True)
        total += (os.path.getsize(wav) - 44) / (22050 * 2) + 0.7
        parts.append(wav)
        text.append(sentence)
        index += 1
    source = os.path.join(directory, "speech.mp4")
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s=320x240:r=25:d={total:.2f}",
               "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=0.7"]
    for part in parts:
        command += ["-i", part]
    chain = "".join(f"[{i + 2}:a][1:a]" for i in range(len(parts)))
    command += ["-filter_complex", f"{chain}concat=n={len(parts) * 2}:v=0:a=1[a]", "-map", "0:v", "-map", "[a]",
                "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", source]
    subprocess.run(command, check=True)
    return source, " ".join(text), total


def recall(heard, said):
    import collections
    h, s = collections.Counter(words(heard)), collections.Counter(words(said))
    return sum(min(n, h[w]) for w, n in s.items()) / max(1, sum(s.values()))


def vtt_text(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    return " ".join(l for l in lines if l and "-->" not in l and not l.startswith(("WEBVTT", "X-TIMESTAMP")))


def ours(binary, source, directory, environment):
    job = os.path.join(directory, "job.json")
    with open(job, "w") as handle:
        json.dump({"type": "transcode", "file_id": "talk", "input": {"url": "file://" + source}, "output": {"url": "file://" + directory + "/out/"},
                   "options": {"renditions": [234], "thumbnails": 1, "storyboard": False, "qc": False, "quality_sample": 0,
                               "split": "off", "captions": {"auto": True, "language": "en"}}}, handle)
    env = dict(os.environ, MW_STORAGE_ROOT=os.path.dirname(source), MW_TEMP_DIR=os.path.join(directory, "tmp"), **environment)
    process = subprocess.Popen([binary, "process", job], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"captions job failed: {output[-2000:]}")
    data = json.loads(output.strip().splitlines()[-1])["data"]
    webvtt = next(t["webvtt"] for t in data["outputs"]["subtitles"] if t["name"].endswith("(auto)"))
    return data["captions"], usage.ru_maxrss / 1024, vtt_text(webvtt[len("file://"):])


def by_hand_whisper(source, directory, python):
    wav = os.path.join(directory, "hand.wav")
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", source, "-vn", "-ac", "1", "-ar", "16000", wav], check=True)
    process = subprocess.Popen([python, os.path.join(ROOT, "scripts", "asr", "whisper_asr.py"), "--audio", wav], stdout=subprocess.PIPE)
    output = process.stdout.read().decode()
    _, _, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, " ".join(w["word"] for w in json.loads(output)["words"])


def by_hand_pocketsphinx(source):
    started = time.perf_counter()
    chain = f"apad=pad_dur=1,aresample=16000,asr=hmm={MODEL}/en-us:dict={MODEL}/cmudict-en-us.dict:lm={MODEL}/en-us.lm.bin,ametadata=mode=print"
    process = subprocess.Popen(["ffmpeg", "-v", "info", "-nostats", "-i", source, "-vn", "-af", chain, "-f", "null", "-"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = process.stderr.read().decode()
    _, _, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, " ".join(re.findall(r"lavfi\.asr\.text=(.*)", log))


def captions_rows(binary, repeat, seconds_wanted=60):
    python = os.path.join(ROOT, ".venv", "bin", "python")
    with tempfile.TemporaryDirectory(prefix="mw-bench-captions-") as directory:
        source, text, total = speech_source(directory, seconds_wanted)
        print(f"(h) automatic captions on {total:.1f} s of espeak-ng speech (6 sentences repeated), median of {repeat}")
        print(f"{'':52}{'RTF':>8}{'peak RSS MB':>14}{'recall':>9}   (peak RSS: the process and its children)")
        engines = [("whisper", {"MW_ASR_COMMAND": f"{python} {os.path.join(ROOT, 'scripts', 'asr', 'whisper_asr.py')}"}),
                   ("pocketsphinx", {"MW_ASR_ENGINE": "pocketsphinx"})]
        for engine, environment in engines:
            factors, peaks, hand_factors, hand_peaks = [], [], [], []
            heard = hand_heard = ""
            for index in range(repeat):
                work = os.path.join(directory, f"{engine}-{index}")
                os.makedirs(work)
                report, peak, heard = ours(binary, source, work, environment)
                factors.append(report["realtime_factor"])
                peaks.append(peak)
                hand_dir = os.path.join(directory, f"{engine}-hand-{index}")
                os.makedirs(hand_dir)
                elapsed, hand_peak, hand_heard = by_hand_whisper(source, hand_dir, python) if engine == "whisper" else by_hand_pocketsphinx(source)
                hand_factors.append(elapsed / total)
                hand_peaks.append(hand_peak)
            factors.sort()
            hand_factors.sort()
            ours_rtf, hand_rtf = factors[len(factors) // 2], hand_factors[len(hand_factors) // 2]
            label = f"{engine}: media-worker ({report.get('model')})"
            print(f"{label:52}{ours_rtf:>8.3f}{max(peaks):>14.1f}{recall(heard, text):>9.2f}")
            hand = "whisper_asr.py on ffmpeg's WAV" if engine == "whisper" else "ffmpeg CLI asr filter"
            print(f"{engine + ': by hand (' + hand + ')':52}{hand_rtf:>8.3f}{max(hand_peaks):>14.1f}{recall(hand_heard, text):>9.2f}")
            print(f"{'  ratio ours / by hand':52}{ours_rtf / hand_rtf:>8.2f}")
