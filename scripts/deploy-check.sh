#!/usr/bin/env bash
# Offline checks of the deploy files, by their own tools (part of
# `make test`; no Docker engine or cluster needed):
#
#   docker-compose config -q                 docker-compose.yml parses
#   haproxy -c -dW                           deploy/haproxy/haproxy.cfg (sticky, and
#                                            with SOCKGATE_STICKY=false), with the
#                                            compose service names in a private
#                                            /etc/hosts (a mount namespace) when
#                                            unshare works, so that unresolved
#                                            names fail too
#   promtool check config / check rules / test rules   deploy/prometheus/
#   kubectl kustomize overlays/<name>        each overlay of deploy/kubernetes
#   go test in deploy/check                  every rendered object decodes
#                                            strictly into the k8s Go types
#
# A missing tool is a failure (scripts/deps.sh installs them), except
# kubectl whose embedded kustomize is older than v4: deploy/check renders
# with the kustomize Go API anyway.
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0 fail=0
check() {
	local what=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		pass=$((pass + 1))
		echo "ok   $what"
	else
		fail=$((fail + 1))
		echo "FAIL $what"
		sed 's/^/     /' <<<"$out"
	fi
}
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	fail=$((fail + 1))
	echo "FAIL $1 not installed (scripts/deps.sh installs it)"
	return 1
}

need docker-compose && check "docker-compose config -q" docker-compose -f docker-compose.yml config -q

haproxy_check() {
	local cfg=deploy/haproxy/haproxy.cfg hosts
	hosts=$(mktemp)
	trap 'rm -f "$hosts"' RETURN
	{
		echo "127.0.0.1 localhost"
		echo "127.0.0.1 $(docker-compose -f docker-compose.yml config --services 2>/dev/null | tr '\n' ' ')"
	} >"$hosts"
	if unshare -m --propagation private true 2>/dev/null; then
		unshare -m --propagation private sh -c 'mount --bind "$1" /etc/hosts && haproxy -c -dW -f "$2"' sh "$hosts" "$cfg"
	else
		echo "(no mount namespace: checked without the compose host names)"
		haproxy -c -f "$cfg"
	fi
}
if need haproxy; then
	check "haproxy -c deploy/haproxy/haproxy.cfg" haproxy_check
	# The same file without stickiness (docker-compose.yml passes
	# SOCKGATE_STICKY to HAProxy too).
	check "haproxy -c deploy/haproxy/haproxy.cfg (SOCKGATE_STICKY=false)" env SOCKGATE_STICKY=false bash -c "$(declare -f haproxy_check); haproxy_check"
fi

if need promtool; then
	check "promtool check config deploy/prometheus/prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
	check "promtool check rules deploy/prometheus/alerts.yml" promtool check rules deploy/prometheus/alerts.yml
	check "promtool test rules deploy/prometheus/alerts_test.yml" promtool test rules deploy/prometheus/alerts_test.yml
fi

if need kubectl; then
	kv=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"kustomizeVersion": *"v\([0-9]*\)\..*/\1/p')
	for o in deploy/kubernetes/overlays/*/; do
		o=${o%/}
		if [[ ${kv:-0} -ge 4 ]]; then
			check "kubectl kustomize $o" kubectl kustomize "$o"
		else
			echo "skip kubectl kustomize $o (kubectl embeds kustomize ${kv:-?} < v4)"
		fi
	done
fi

check "go test deploy/check (strict decode of every rendered object)" sh -c 'cd deploy/check && go test -count=1 ./...'

echo "deploy: $pass passed, $fail failed"
((fail == 0))
