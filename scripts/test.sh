#!/usr/bin/env bash
# The test command (`make test`): sets up what the tests need, then runs every
# suite and ends with one summary line:
#
#   1. scripts/deps.sh: redis-server, chromium, node/npm (apt-get, as root)
#   2. scripts/node-modules.sh: npm ci when node_modules is missing or stale
#   3. genbundle -check: the committed socket.io-client bundle in web/dist is
#      exactly what `go generate ./web` makes from the npm ci'd package
#   4. go mod tidy -diff: go.mod and go.sum are exactly what tidy writes
#   5. go vet ./..., then GOOS=darwin and GOOS=windows go vet ./... (vet
#      type-checks the tests too: everything builds for macOS and Windows),
#      and staticcheck ./... (honnef.co/go/tools at the version pinned below,
#      through go run: nothing of it enters go.mod)
#   6. go test -race -count=1 ./...   (through scripts/testreport: plain
#      go test output, failures only, and a "go: N passed, N failed" line),
#      then go test -race -count=1 -tags sockgate_portable ./pkg/transport/...
#      (the same way): the transport's non-epoll path, the one macOS and
#      Windows take; with CI (or FUZZ) set, then every fuzz target for
#      CI_FUZZTIME (3s)
#   7. node --test on test/ (Node integration and browser tests), with
#      SOCKGATE_GATEWAY_BIN / SOCKGATE_CONFORMANCE_BIN pointing at freshly
#      built binaries; then test/conformance/engineio.test.mjs again against
#      a conformance binary built with -tags sockgate_portable
#   8. scripts/deploy-check.sh: the deploy files checked offline by their
#      own tools (docker-compose, haproxy, promtool, kubectl kustomize, and
#      the deploy/check module's strict decode into the k8s Go types)
#
# Environment: GOTESTFLAGS adds flags to go test (e.g. GOTESTFLAGS=-short);
# SKIP_NODE=1 skips step 7, SKIP_DEPLOY=1 step 8. The summary has a line for
# each of go, go portable, node, node portable and deploy, and their total.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
staticcheck=honnef.co/go/tools/cmd/staticcheck@v0.8.2

step() { printf '\n== %s\n' "$*"; }
failed=()

step "dependencies"
scripts/deps.sh || failed+=(deps)
scripts/node-modules.sh || failed+=(npm)

step "web/dist is what go generate ./web writes (socket.io-client bundle)"
go run ./web/internal/genbundle -check -out web/dist || failed+=(bundle-stale)

step "go mod tidy -diff"
go mod tidy -diff && echo "go.mod and go.sum tidy" || failed+=(tidy)

step "go vet ./..."
go vet ./... && echo "vet ok" || failed+=(vet)

# The code and its tests build for the other systems the gateway runs on.
for goos in darwin windows; do
	step "GOOS=$goos go vet ./..."
	GOOS=$goos go vet ./... && echo "vet ok ($goos)" || failed+=("vet-$goos")
done

step "staticcheck ./... ($staticcheck)"
go run "$staticcheck" ./... && echo "staticcheck ok" || failed+=(staticcheck)

mkdir -p bin
go build -o bin/testreport ./scripts/testreport || { echo "cannot build scripts/testreport" >&2; exit 1; }

step "go test -race -count=1 ./..."
go_out=$(mktemp)
goport_out=$(mktemp)
node_out=$(mktemp)
nodeport_out=$(mktemp)
deploy_out=$(mktemp)
trap 'rm -f "$go_out" "$goport_out" "$node_out" "$nodeport_out" "$deploy_out"' EXIT
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -race -count=1 ${GOTESTFLAGS:-} -json ./... 2>&1 | bin/testreport | tee "$go_out"
((PIPESTATUS[0] == 0 && PIPESTATUS[1] == 0)) || failed+=(go-test)

# The tag sockgate_portable makes Linux build the transport's portable path
# (no epoll poller, no non-blocking writes): the one macOS and Windows take.
step "go test -race -count=1 -tags sockgate_portable ./pkg/transport/..."
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -race -count=1 ${GOTESTFLAGS:-} -tags sockgate_portable -json ./pkg/transport/... 2>&1 | bin/testreport | tee "$goport_out"
((PIPESTATUS[0] == 0 && PIPESTATUS[1] == 0)) || failed+=(go-test-portable)

# CI mode: every fuzz target for a few seconds (scripts/fuzz.sh); a crasher
# fails the run and stays in testdata/fuzz/ to be committed with the fix.
if [[ -n ${CI:-} || -n ${FUZZ:-} ]]; then
	step "fuzz: every target for ${CI_FUZZTIME:-3s}"
	FUZZTIME=${CI_FUZZTIME:-3s} scripts/fuzz.sh 2>&1 | grep -v '^fuzz: elapsed:' || failed+=(fuzz)
fi

# Node's test runner: files named like its default patterns under test/.
node_files=()
if [[ -d test && -z ${SKIP_NODE:-} ]]; then
	while IFS= read -r f; do node_files+=("$f"); done < <(
		find test -path '*/node_modules' -prune -o -type f \
			\( -name '*.test.js' -o -name '*.test.mjs' -o -name '*.test.cjs' \
			-o -name '*-test.js' -o -name '*-test.mjs' -o -name '*_test.js' -o -name '*_test.mjs' \
			-o -name 'test-*.js' -o -name 'test-*.mjs' \) -print | sort)
fi
if ((${#node_files[@]} > 0)); then
	step "node --test (${#node_files[@]} files in test/)"
	# Prebuilt binaries for test/lib/harness.mjs (it builds them itself otherwise).
	for cmd in gateway conformance; do
		[[ -d cmd/$cmd ]] || continue
		if go build -o "bin/$cmd" "./cmd/$cmd"; then
			export "SOCKGATE_${cmd^^}_BIN=$root/bin/$cmd"
		else
			failed+=("build-$cmd")
		fi
	done
	export SOCKGATE_ROOT=$root
	REDIS_SERVER=$(command -v redis-server || true)
	export REDIS_SERVER
	[[ -x /usr/bin/chromium ]] && export CHROMIUM=/usr/bin/chromium
	node --test --test-reporter=tap "${node_files[@]}" 2>&1 | tee "$node_out"
	((PIPESTATUS[0] == 0)) || failed+=(node-test)

	# The Engine.IO conformance checks against the transport's portable path.
	portable_file=test/conformance/engineio.test.mjs
	if [[ -d cmd/conformance && -f $portable_file ]]; then
		step "node --test $portable_file (conformance built with -tags sockgate_portable)"
		if go build -tags sockgate_portable -o bin/conformance-portable ./cmd/conformance; then
			SOCKGATE_CONFORMANCE_BIN=$root/bin/conformance-portable \
				node --test --test-reporter=tap "$portable_file" 2>&1 | tee "$nodeport_out"
			((PIPESTATUS[0] == 0)) || failed+=(node-test-portable)
		else
			failed+=(build-conformance-portable)
		fi
	fi
fi

if [[ -z ${SKIP_DEPLOY:-} ]]; then
	step "deploy files (offline checks)"
	scripts/deploy-check.sh 2>&1 | tee "$deploy_out"
	((PIPESTATUS[0] == 0)) || failed+=(deploy)
fi

# One closing summary: the counts of each suite, and the total.
count() { sed -n "s/^$2 \([0-9][0-9]*\)\$/\1/p" "$1" | tail -1; }
# gocount FILE N: field N (1 passed, 2 failed, 3 skipped) of testreport's line.
gocount() {
	grep -E '^go: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$1" | tail -1 |
		sed -E "s/^go: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\\$2/"
}
gp=$(gocount "$go_out" 1) gf=$(gocount "$go_out" 2) gs=$(gocount "$go_out" 3)
pp=$(gocount "$goport_out" 1) pf=$(gocount "$goport_out" 2) ps=$(gocount "$goport_out" 3)
np=$(count "$node_out" '# pass')
nf=$(count "$node_out" '# fail')
ns=$(count "$node_out" '# skipped')
qp=$(count "$nodeport_out" '# pass')
qf=$(count "$nodeport_out" '# fail')
qs=$(count "$nodeport_out" '# skipped')
dp=$(sed -n 's/^deploy: \([0-9]*\) passed, .*/\1/p' "$deploy_out" | tail -1)
df=$(sed -n 's/^deploy: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$deploy_out" | tail -1)
np=${np:-0} nf=${nf:-0} ns=${ns:-0} gp=${gp:-0} gf=${gf:-0} gs=${gs:-0} dp=${dp:-0} df=${df:-0}
pp=${pp:-0} pf=${pf:-0} ps=${ps:-0} qp=${qp:-0} qf=${qf:-0} qs=${qs:-0}

step "summary"
grep -E $'^(ok|FAIL)[ \t]' "$go_out" || true
grep -E $'^(ok|FAIL)[ \t]' "$goport_out" | sed 's/$/ (-tags sockgate_portable)/' || true
echo "go:            $gp passed, $gf failed, $gs skipped"
echo "go portable:   $pp passed, $pf failed, $ps skipped"
((${#node_files[@]} > 0)) && echo "node:          $np passed, $nf failed, $ns skipped"
[[ -s $nodeport_out ]] && echo "node portable: $qp passed, $qf failed, $qs skipped"
[[ -z ${SKIP_DEPLOY:-} ]] && echo "deploy:        $dp passed, $df failed"
passed=$((gp + pp + np + qp + dp)) failures=$((gf + pf + nf + qf + df)) skipped=$((gs + ps + ns + qs))
if ((${#failed[@]} > 0)); then
	echo "failed steps: ${failed[*]}"
	# A failed step with no failed test (vet, a build) still counts as one failure.
	((failures == 0)) && failures=1
fi
echo "total: $passed passed, $failures failed, $skipped skipped"
((${#failed[@]} == 0))
