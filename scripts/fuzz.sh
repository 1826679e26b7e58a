#!/usr/bin/env bash
# Runs every Go fuzz target of the module for FUZZTIME each (default 10s).
#
#   scripts/fuzz.sh                  # or: make fuzz
#   FUZZTIME=1m scripts/fuzz.sh ./pkg/protocol/...
#
# The test command runs it in CI mode (CI set) with FUZZTIME=3s. A target
# that fails leaves its crasher in <package>/testdata/fuzz/<Target>/: fix
# the bug and commit that file, which `go test` then replays as a
# regression case for good.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./...)

# Only packages whose tests declare a fuzz target (a grep, cheaper than
# compiling every test binary to list its targets).
dirs=$(go list -f '{{.Dir}}' "${pkgs[@]}")
n=0
failed=()
for dir in $dirs; do
	grep -qs '^func Fuzz' "$dir"/*_test.go || continue
	pkg=$(go list "$dir")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go | sed 's/^func //'); do
		echo "== $pkg $target ($FUZZTIME)"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
			failed+=("$pkg $target")
			echo "fuzz: $target failed; its crasher is in $dir/testdata/fuzz/$target/ (commit it with the fix)" >&2
		fi
		n=$((n + 1))
	done
done
if ((${#failed[@]})); then
	echo "fuzz: $n targets, $FUZZTIME each, ${#failed[@]} failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: $n targets, $FUZZTIME each, no failures"
