"""Validates JSON documents against a JSON Schema with the independent `jsonschema` package.

usage: validate_json.py SCHEMA  (documents on stdin, one JSON per line)
Prints one line per document: "ok" or "invalid: <reason>". Exit 0 unless the schema is unusable.
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        document = json.loads(line)
    except ValueError as error:
        print(f"invalid: not JSON: {error}")
        continue
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    print("ok" if not errors else "invalid: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3]))
