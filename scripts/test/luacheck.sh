#!/usr/bin/env bash
# Lints the queue's Lua scripts as Redis runs them (prelude, includes, body), with luacheck
# (Debian's lua-check, installed by scripts/install-deps.sh). Part of `make test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v luacheck >/dev/null; then
    echo "luacheck: not installed (apt-get install lua-check, or scripts/install-deps.sh)" >&2
    exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 "$root/scripts/embed-lua.py" --check --assemble "$out" || {
    echo "luacheck: Sources/QueueClient/Scripts/EmbeddedLua.swift is not what Lua/ makes: run make lua" >&2
    exit 1
}
luacheck --no-color --codes --config "$root/Sources/QueueClient/Lua/.luacheckrc" "$out"/*.lua
