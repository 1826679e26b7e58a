#!/usr/bin/env bash
# Memory per idle Socket.IO websocket connection on one fresh gateway node
# (the target: at most 10 KiB of RSS per connection at 10,000 connections).
#
#   loadtest/memory.sh                 # 10,000 connections, held 50s
#   N=19900 loadtest/memory.sh        # the most this machine allows (see below)
#
# It builds cmd/gateway and loadgen, starts the gateway on a free loopback
# port, and runs `loadgen connect` from a separate process: N websocket
# clients, each doing the Engine.IO handshake and a Socket.IO CONNECT to "/",
# held for HOLD while answering pings. HOLD (50s) exceeds the ping interval
# plus the ping timeout (25s + 20s, the gateway's defaults), so every client
# answers a ping and a pong the gateway failed to read would have closed its
# socket by the end; the run fails if fewer than N pings were answered or if
# the gateway does not count N sockets at the end. It prints the loadgen summary's server
# part and RSS per connection: (RSS after holding - RSS before) / N, from
# /proc/<pid>/status of the gateway.
#
# The process's open-file limit bounds N (one descriptor per connection on
# each side): `ulimit -Hn` is 20,000 on the development machines.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
HOLD=${HOLD:-50s}
PING_INTERVAL=${PING_INTERVAL:-25s}

tmp=$(mktemp -d)
gw_pid=
cleanup() {
	if [ -n "$gw_pid" ]; then kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/gateway" ./cmd/gateway
go build -o "$tmp/loadgen" ./loadtest/cmd/loadgen
ulimit -n "$(ulimit -Hn)"

port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$tmp/gateway" -addr "127.0.0.1:$port" -log-level error -ping-interval "$PING_INTERVAL" &
gw_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
	sleep 0.1
done

"$tmp/loadgen" connect -nodes "http://127.0.0.1:$port" -n "$N" -hold "$HOLD" -pids "$gw_pid" \
	-progress 10s -timeout 10m >"$tmp/summary.json"

node - "$tmp/summary.json" "$N" <<'JS'
const [file, n] = process.argv.slice(2);
const d = JSON.parse(require("fs").readFileSync(file, "utf8"));
const s = d.server, want = Number(n);
console.log(JSON.stringify({server: s, client: d.client, errors: d.errors}, null, 1));
console.log(`connections: ${want}, sockets on the gateway: ${s.sockets_after}, pings answered: ${d.client.pings_answered}`);
console.log(`RSS per idle connection: ${(s.rss_per_conn_bytes / 1024).toFixed(2)} KiB` +
	` (${(s.rss_before_bytes / 2 ** 20).toFixed(1)} -> ${(s.rss_after_bytes / 2 ** 20).toFixed(1)} MiB)`);
if (s.sockets_after < want || d.client.pings_answered < want) {
	console.error("FAIL: not every connection stayed up and answered a ping");
	process.exit(1);
}
JS
