#!/usr/bin/env bash
# Slow consumers: does a room's fan-out stay fast for the readers while some
# members stop reading? Two fan-outs on one fresh gateway node, the same
# load each time:
#
#   1. N readers in room "bench", no stalled member (the baseline);
#   2. the same N readers plus STALLED members that join and then stop
#      reading (their TCP windows fill, then their write queues).
#
# It prints each run's delivery latency (p50/p99/max), losses, and how many
# stalled members the gateway closed as slow consumers, then a verdict: the
# readers lost nothing, the p99 of run 2 is within 2x of run 1's, and every
# stalled member was closed.
#
#   loadtest/slow.sh                          # 9,900 readers + 100 stalled
#   N=990 STALLED=10 loadtest/slow.sh         # a quick run
#
# The gateway runs with -write-queue-bytes WRITE_QUEUE (64 KiB) and
# -tcp-send-buffer SNDBUF (16 KiB): with the kernel's autotuned 4 MiB send
# buffer a stalled member would need about 4 MiB of broadcasts before its
# queue even starts to grow, which at N readers is more than this machine
# moves in a reasonable time; the mechanism is the same.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-9900}
STALLED=${STALLED:-100}
RATE=${RATE:-0.5}
MESSAGES=${MESSAGES:-40}
PAYLOAD=${PAYLOAD:-8192}
WRITE_QUEUE=${WRITE_QUEUE:-65536}
SNDBUF=${SNDBUF:-16384}

tmp=$(mktemp -d)
gw_pid=
cleanup() {
	if [[ -n $gw_pid ]]; then kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/gateway" ./cmd/gateway
go build -o "$tmp/loadgen" ./loadtest/cmd/loadgen
ulimit -n "$(ulimit -Hn)"

port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$tmp/gateway" -addr "127.0.0.1:$port" -log-level warn \
	-write-queue-bytes "$WRITE_QUEUE" -tcp-send-buffer "$SNDBUF" &
gw_pid=$!
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
	sleep 0.1
done

run() { # stalled -> summary file
	"$tmp/loadgen" fanout -nodes "http://127.0.0.1:$port" -pids "$gw_pid" -n "$N" -stalled "$1" \
		-rate "$RATE" -messages "$MESSAGES" -payload "$PAYLOAD" -progress 10s -timeout 10m >"$tmp/run-$1.json"
	# Let every client of the run go before the next one.
	for _ in $(seq 100); do
		[[ $(curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "sockgate_sockets" { print $2 }') == 0 ]] && break
		sleep 0.2
	done
}
echo "slow: baseline, $N readers" >&2
run 0
echo "slow: $N readers + $STALLED stalled" >&2
run "$STALLED"

node - "$tmp/run-0.json" "$tmp/run-$STALLED.json" "$STALLED" <<'JS'
const fs = require("fs");
const [a, b, stalled] = process.argv.slice(2);
const base = JSON.parse(fs.readFileSync(a, "utf8")).fanout, slow = JSON.parse(fs.readFileSync(b, "utf8")).fanout;
const line = (name, f) => `${name}: ${f.receivers} readers, ${f.sent} messages, delivered ${f.delivered}/${f.expected}` +
	` lost ${f.lost} dup ${f.duplicated}, ${Math.round(f.deliveries_per_s)} deliveries/s,` +
	` latency p50 ${f.latency.p50_ms.toFixed(1)} p99 ${f.latency.p99_ms.toFixed(1)} max ${f.latency.max_ms.toFixed(1)} ms`;
console.log(line("baseline", base));
console.log(line(`stalled ${stalled}`, slow) + `; slow-consumer closes ${slow.stalled.server_slow_consumer_closes}/${slow.stalled.members}`);
const ratio = slow.latency.p99_ms / base.latency.p99_ms;
const ok = base.lost === 0 && slow.lost === 0 && ratio <= 2 && slow.stalled.server_slow_consumer_closes === Number(stalled);
console.log(`slow verdict: ${ok ? "PASS" : "FAIL"}: p99 ratio ${ratio.toFixed(2)} (limit 2), readers lost ${slow.lost}, stalled closed ${slow.stalled.server_slow_consumer_closes}/${stalled}`);
process.exit(ok ? 0 : 1);
JS
