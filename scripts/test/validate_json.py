"""Validates JSON documents against a JSON Schema with the independent `jsonschema` package.

usage: validate_json.py SCHEMA  (documents on stdin, one JSON per line)
Prints one line per document: "ok" or "invalid: <reason>". Exit 0 unless the schema is unusable.
Every schema under the schema's contracts/ folder is registered, so $refs between them resolve.
"""
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

path = pathlib.Path(sys.argv[1]).resolve()
contracts = next((p for p in [path.parent, *path.parents] if p.name == "contracts"), path.parent)
registry = Registry()
for other in contracts.rglob("*.schema.json"):
    document = json.loads(other.read_text())
    registry = registry.with_resource(document["$id"], Resource.from_contents(document))
schema = json.loads(path.read_text())
validator = jsonschema.Draft202012Validator(
    schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
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
