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
		# Go's fuzzing engine sometimes ends a run with "context deadline
		# exceeded" and no failing input when the machine is too busy for
		# its workers to answer in time; such a run found nothing, so it is
		# tried again (twice at most). A run that wrote a failing input fails.
		for try in 1 2 3; do
			out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1) && ok=1 || ok=0
			printf '%s\n' "$out"
			((ok)) && break
			if ((try < 3)) && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
				echo "fuzz: $target: the engine timed out without a failing input; running it again" >&2
				continue
			fi
			failed+=("$pkg $target")
			echo "fuzz: $target failed; its crasher is in $dir/testdata/fuzz/$target/ (commit it with the fix)" >&2
			break
		done
		n=$((n + 1))
	done
done
if ((${#failed[@]})); then
	echo "fuzz: $n targets, $FUZZTIME each, ${#failed[@]} failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: $n targets, $FUZZTIME each, no failures"
