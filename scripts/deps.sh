#!/usr/bin/env bash
# Installs the system packages the tests need when they are missing:
# redis-server (Redis adapter tests, make cluster), chromium (browser test),
# haproxy (the load balancer tests), prometheus (promtool checks the deploy
# files), docker-compose (parses docker-compose.yml offline), kubectl
# (kubectl kustomize renders deploy/kubernetes; Debian's kubernetes-client
# when none is installed) and Node.js + npm
# (client bundle, Node integration tests). As root it uses
# apt-get (Debian); otherwise it only says what is missing.
#
#   scripts/deps.sh            # everything above (make test)
#   scripts/deps.sh node       # only node/npm (make run)
#   scripts/deps.sh redis      # only redis-server (make cluster)
set -euo pipefail

want=${1:-all}
missing=()
has() { command -v "$1" >/dev/null 2>&1; }

if [[ $want == all || $want == node ]]; then
	has node && has npm || missing+=(nodejs npm)
fi
if [[ $want == all || $want == redis ]]; then
	has redis-server || missing+=(redis-server)
fi
if [[ $want == all ]]; then
	[[ -x /usr/bin/chromium ]] || missing+=(chromium)
	has haproxy || missing+=(haproxy)
	has promtool || missing+=(prometheus)
	has docker-compose || missing+=(docker-compose)
	has kubectl || missing+=(kubernetes-client)
fi

((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) == 0 ]] && has apt-get; then
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
	exit 0
fi

echo "deps: missing ${missing[*]}; install them with:" >&2
echo "      sudo apt-get install -y ${missing[*]}" >&2
echo "      (tests that need them fail or are skipped until then)" >&2
