#!/usr/bin/env bash
# Runs `npm ci` when node_modules is missing or older than package.json or
# package-lock.json, so the pinned npm packages (the socket.io-client bundle,
# the Node peers of the tests) are exactly the locked versions.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.package-lock.json # written by npm on every install
if [[ -f $stamp && ! package-lock.json -nt $stamp && ! package.json -nt $stamp ]]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "node-modules: npm not found: install Node.js >= 20 and npm (scripts/deps.sh node does it as root)" >&2
	exit 1
fi
echo "node-modules: npm ci" >&2
npm ci --no-audit --no-fund
touch "$stamp"
