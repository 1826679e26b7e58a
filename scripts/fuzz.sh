#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 10s).
#
#   scripts/fuzz.sh                  # or: make fuzz
#   FUZZTIME=1m scripts/fuzz.sh ./pkg/protocol/...
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./...)

n=0
for pkg in $(go list "${pkgs[@]}"); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($FUZZTIME)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
		n=$((n + 1))
	done
done
echo "fuzz: $n targets, $FUZZTIME each, no failures"
