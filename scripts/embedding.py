"""What the embedding scripts share: files become Swift string literals in a generated source,
written only when it changes; `--check` says whether the generated source is current.

Used by embed-contracts.py (contracts/ → JobContract), embed-lua.py (the queue's Lua) and
embed-dashboard.py (the dashboard's templates and assets)."""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HASHES = "###"


def raw_string(text, indent=""):
    """`text` as a Swift raw multi-line string literal whose value is exactly `text` (three #s:
    JSON, Lua and HTML may hold `"#`)."""
    assert '"""' + HASHES not in text, "a Swift raw-string delimiter in embedded text"
    return f'{HASHES}"""\n{text}\n{indent}"""{HASHES}'


def write_or_check(target, generated, argv=None, name="embed"):
    """With --check: exit 0 when `target` holds `generated`, 1 otherwise. Else write it if it differs."""
    argv = sys.argv if argv is None else argv
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if "--check" in argv:
        sys.exit(0 if current == generated else 1)
    if current != generated:
        target.write_text(generated, encoding="utf-8")
        print(f"{name}: wrote {target.relative_to(ROOT)}", file=sys.stderr)
