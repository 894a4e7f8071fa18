#!/usr/bin/env bash
# CI gate: runs Redis 7.0.15's own unit tests (run.sh beside this file) against the release
# build and fails when fewer pass than the floor kept in `floor` beside this file.
#
# usage (from the repository root, after `cargo build --release`): tests/conformance/gate.sh
# Raise `floor` when the suite passes more; never lower it.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
floor=$(tr -dc '0-9' <"$HERE/floor")
# The suite's report goes to stderr as it comes (through the inherited descriptor: reopening
# /dev/stderr would truncate a log file it points at) and to a temp file for the total.
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$HERE/run.sh" --show-errors 20 --timeout 120 "$@" | tee "$report" >&2
out=$(tail -n 1 "$report")
passed=$(sed -n 's/^conformance: \([0-9]*\) of .*/\1/p' <<<"$out")
if [[ -z $passed ]]; then
  echo "conformance gate: the suite gave no total" >&2
  exit 1
fi
if (( passed < floor )); then
  echo "conformance gate: FAILED, $passed tests pass, the floor is $floor" >&2
  exit 1
fi
echo "conformance gate: $passed tests pass (floor $floor)"
