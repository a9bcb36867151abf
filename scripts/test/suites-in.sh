#!/usr/bin/env bash
# Prints the Swift Testing suites declared in a test folder as a `swift test --filter` pattern
# (A|B|C): the Makefile runs the machine-loading suites by their folder
# (Tests/MediaWorkerTests/MachineLoad), so moving a suite there is all it takes.
set -euo pipefail
folder=${1:?usage: scripts/test/suites-in.sh FOLDER}
names=$(awk '/^@Suite/ { suite = 1 } suite && match($0, /^(public |final )*(struct|final class|enum) [A-Za-z0-9_]+/) {
    split(substr($0, RSTART, RLENGTH), words, " "); print words[length(words)]; suite = 0 }' "$folder"/*.swift | sort -u)
[ -n "$names" ] || { echo "suites-in: no @Suite in $folder" >&2; exit 1; }
echo "$names" | paste -sd'|'
