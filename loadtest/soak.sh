#!/usr/bin/env bash
# Soak test: a 3-node cluster on one redis-server under steady mixed load for
# DURATION, sampled every INTERVAL; fails when memory, goroutines or open files
# keep growing.
#
#   loadtest/soak.sh                         # 30 minutes
#   DURATION=5m loadtest/soak.sh             # a shorter run
#   OUT=/tmp/soak DURATION=2h loadtest/soak.sh
#
# Load (two loadgen processes, clients spread over the three nodes):
#   churn + fan-out: MEMBERS sockets in one room receive MSG_RATE messages/s
#     published through Redis, while CHURN_RATE clients/s connect, join the
#     room, live CHURN_LIFE and leave (half cleanly, half by dropping TCP);
#   echo: ECHO_CLIENTS clients share ECHO_RATE acked echo requests/s.
#
# Every INTERVAL (10s) it records, per node, RSS (/proc/<pid>/status), open
# file descriptors (/proc/<pid>/fd), and go_goroutines and
# go_memstats_heap_inuse_bytes from /metrics, into $OUT/soak.csv
# (t_s,node,rss_bytes,goroutines,fds,heap_inuse_bytes,sockets,phase). It draws
# $OUT/soak.png with gnuplot (Debian: apt-get install gnuplot-nox; without it
# the plot is skipped, the verdict is not).
#
# Verdict (last line, exit status 1 on FAIL), per node: the mean of the last
# fifth of the run against the mean of the second tenth (after warm-up) must
# not grow by more than RSS 25 % + 16 MiB, heap 50 % + 8 MiB, goroutines
# 10 % + 50, fds 10 % + 50; after the load stops and SETTLE passes, goroutines
# must be back within 10 of the idle count before the load and no socket may
# be left; and the loadgen runs must report no lost or duplicated message and
# no failed echo.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30m}
INTERVAL=${INTERVAL:-10}
MEMBERS=${MEMBERS:-300}
MSG_RATE=${MSG_RATE:-20}
CHURN_RATE=${CHURN_RATE:-20}
CHURN_LIFE=${CHURN_LIFE:-3s}
ECHO_CLIENTS=${ECHO_CLIENTS:-30}
ECHO_RATE=${ECHO_RATE:-300}
SETTLE=${SETTLE:-30}
OUT=${OUT:-$(mktemp -d /tmp/sockgate-soak.XXXXXX)}
mkdir -p "$OUT"

seconds() { # 30m, 90s, 1h, 2h30m -> seconds
	local d=$1 total=0 n
	while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
		n=${BASH_REMATCH[1]}
		case ${BASH_REMATCH[2]} in h) n=$((n * 3600)) ;; m) n=$((n * 60)) ;; esac
		total=$((total + n))
		d=${BASH_REMATCH[3]}
	done
	[[ -z $d ]] || { echo "soak: bad DURATION $DURATION (use e.g. 30m, 90s, 1h30m)" >&2; exit 2; }
	echo "$total"
}
dur_s=$(seconds "$DURATION")
((dur_s >= 60)) || { echo "soak: DURATION must be at least 1m" >&2; exit 2; }

command -v redis-server >/dev/null || { echo "soak: redis-server not found (apt-get install redis-server)" >&2; exit 1; }

bin=$OUT/bin
mkdir -p "$bin"
go build -o "$bin/gateway" ./cmd/gateway
go build -o "$bin/loadgen" ./loadtest/cmd/loadgen
ulimit -n "$(ulimit -Hn)"

free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

pids=()
redis_pid=
load_pids=()
cleanup() {
	for p in "${load_pids[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${load_pids[@]}" "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n $redis_pid ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
	--dir "$OUT" --logfile "$OUT/redis.log" &
redis_pid=$!

ports=()
urls=()
for i in 1 2 3; do
	port=$(free_port)
	"$bin/gateway" -addr "127.0.0.1:$port" -redis-url "redis://127.0.0.1:$redis_port" \
		-log-level warn >"$OUT/node$i.log" 2>&1 &
	pids+=($!)
	ports+=("$port")
	urls+=("http://127.0.0.1:$port")
done
for port in "${ports[@]}"; do
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
		sleep 0.2
	done
	curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" || { echo "soak: node on :$port not ready" >&2; exit 1; }
done
nodes=$(IFS=,; echo "${urls[*]}")
pid_list=$(IFS=,; echo "${pids[*]}")

metric() { # metrics-text name -> value (0 when absent)
	awk -v n="$2" '$1 == n { v = $2 } END { printf "%.0f\n", v + 0 }' <<<"$1"
}
t0=$(date +%s)
sample() { # phase
	local now i pid rss fds m
	now=$(($(date +%s) - t0))
	for i in 0 1 2; do
		pid=${pids[$i]}
		rss=$(awk '/^VmRSS:/ { printf "%d\n", $2 * 1024 }' "/proc/$pid/status" 2>/dev/null || true)
		fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		m=$(curl -sf --max-time 5 "${urls[$i]}/metrics" || true)
		echo "$now,node$((i + 1)),${rss:-0},$(metric "$m" go_goroutines),$fds,$(metric "$m" go_memstats_heap_inuse_bytes),$(metric "$m" sockgate_sockets),$1" >>"$OUT/soak.csv"
	done
}
echo "t_s,node,rss_bytes,goroutines,fds,heap_inuse_bytes,sockets,phase" >"$OUT/soak.csv"
sample idle

echo "soak: 3 nodes (${ports[*]}), redis :$redis_port, $DURATION; output in $OUT"
timeout_flag=$((dur_s + 600))s
"$bin/loadgen" churn -nodes "$nodes" -pids "$pid_list" -n "$MEMBERS" -rate "$MSG_RATE" \
	-duration "$DURATION" -churn-rate "$CHURN_RATE" -churn-life "$CHURN_LIFE" -settle 20s \
	-concurrency 50 -progress 60s -timeout "$timeout_flag" >"$OUT/churn.json" 2>"$OUT/churn.log" &
load_pids+=($!)
"$bin/loadgen" echo -nodes "$nodes" -pids "$pid_list" -c "$ECHO_CLIENTS" -rate "$ECHO_RATE" \
	-duration "$DURATION" -progress 60s -timeout "$timeout_flag" >"$OUT/echo.json" 2>"$OUT/echo.log" &
load_pids+=($!)

# Sample while the load runs; a node that dies fails the soak.
while :; do
	sleep "$INTERVAL"
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null || { echo "soak: FAIL: node pid $p exited (see $OUT/node*.log)" >&2; exit 1; }
	done
	running=0
	for p in "${load_pids[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
	((running)) || break
	elapsed=$(($(date +%s) - t0))
	# After DURATION the load generators wind down (last deliveries, their
	# own settle): those samples are "tail", outside the growth check.
	if ((elapsed <= dur_s)); then sample load; else sample tail; fi
	if ((elapsed % 300 < INTERVAL)); then
		echo "soak: ${elapsed}s: $(tail -3 "$OUT/soak.csv" | cut -d, -f2-5 | tr '\n' ' ')"
	fi
done
load_status=0
for p in "${load_pids[@]}"; do wait "$p" || load_status=1; done
load_pids=()

# Quiet again: goroutines must come back to the idle count.
for ((s = 0; s < SETTLE; s += INTERVAL)); do
	sleep "$INTERVAL"
	sample settle
done

if command -v gnuplot >/dev/null; then
	# One data file per node: gnuplot draws each as its own line.
	for n in node1 node2 node3; do
		awk -F, -v n="$n" '$2 == n' "$OUT/soak.csv" >"$OUT/$n.csv"
	done
	gnuplot <<GP || echo "soak: gnuplot failed; CSV in $OUT/soak.csv" >&2
set datafile separator ","
set terminal pngcairo size 1400,900 noenhanced
set output "$OUT/soak.png"
set multiplot layout 2,2 title "sockgate soak: 3 nodes, $DURATION"
set key top left
set xlabel "seconds"
do for [col in "3 6 4 5"] {
    c = int(col)
    set title (c == 3 ? "RSS (MiB)" : c == 6 ? "heap in use (MiB)" : c == 4 ? "goroutines" : "open fds")
    scale = (c == 3 || c == 6) ? 1048576.0 : 1.0
    plot for [n in "node1 node2 node3"] "$OUT/".n.".csv" using 1:(column(c)/scale) with lines lw 2 title n
}
unset multiplot
GP
else
	echo "soak: gnuplot not installed (Debian: apt-get install gnuplot-nox); no plot, CSV in $OUT/soak.csv" >&2
fi

# The loadgen summaries: losses, duplicates, socket leaks, failures.
node - "$OUT/churn.json" "$OUT/echo.json" >"$OUT/load.txt" <<'JS' || load_status=1
const fs = require("fs");
const [churnFile, echoFile] = process.argv.slice(2);
const c = JSON.parse(fs.readFileSync(churnFile, "utf8")), e = JSON.parse(fs.readFileSync(echoFile, "utf8"));
const ch = c.churn || {}, f = ch.fanout || {};
const ok = f.lost === 0 && f.duplicated === 0 && e.echo && e.echo.errors === 0 && e.echo.mismatched === 0 && !c.interrupted && !e.interrupted;
console.log(`load: churn opened ${ch.opened} (failed ${ch.open_failed}), fan-out delivered ${f.delivered}/${f.expected}` +
	` lost ${f.lost} dup ${f.duplicated} p99 ${f.latency && f.latency.p99_ms} ms;` +
	` echo ${e.echo && e.echo.requests} requests, ${e.echo && e.echo.errors} errors, p99 ${e.echo && e.echo.rtt && e.echo.rtt.p99_ms} ms`);
process.exit(ok ? 0 : 1);
JS
cat "$OUT/load.txt"

# Growth per node: mean of the second tenth vs mean of the last fifth of the load phase.
verdict=$(awk -F, -v settle_ok=1 '
NR == 1 { next }
$8 == "idle" { idle[$2] = $4; next }
$8 == "settle" { settled[$2] = $4; sockets[$2] = $7; next }
$8 != "load" { next }
{ n[$2]++; t[$2, n[$2]] = $1; for (c = 3; c <= 6; c++) v[$2, n[$2], c] = $c }
END {
	split("rss heap goroutines fds", name, " ")
	col["rss"] = 3; col["heap"] = 6; col["goroutines"] = 4; col["fds"] = 5
	rel["rss"] = 0.25; abs["rss"] = 16 * 1048576
	rel["heap"] = 0.50; abs["heap"] = 8 * 1048576
	rel["goroutines"] = 0.10; abs["goroutines"] = 50
	rel["fds"] = 0.10; abs["fds"] = 50
	fail = 0; line = ""
	for (node in n) {
		k = n[node]; if (k < 10) { print "FAIL: only " k " samples for " node; exit 1 }
		a0 = int(k / 10) + 1; a1 = int(k / 5); b0 = k - int(k / 5) + 1; b1 = k
		for (m = 1; m <= 4; m++) {
			c = col[name[m]]; sa = 0; sb = 0
			for (i = a0; i <= a1; i++) sa += v[node, i, c]
			for (i = b0; i <= b1; i++) sb += v[node, i, c]
			ma = sa / (a1 - a0 + 1); mb = sb / (b1 - b0 + 1)
			limit = ma * (1 + rel[name[m]]) + abs[name[m]]
			shown = (c == 3 || c == 6) ? sprintf("%.1f->%.1fMiB", ma / 1048576, mb / 1048576) : sprintf("%.0f->%.0f", ma, mb)
			line = line " " node "." name[m] "=" shown
			if (mb > limit) { fail = 1; line = line "(GROWTH)" }
		}
		if (sockets[node] != 0) { fail = 1; line = line " " node ".sockets_after=" sockets[node] "(NOT 0)" }
		if (settled[node] > idle[node] + 10) { fail = 1; line = line " " node ".goroutines_after=" settled[node] "(idle " idle[node] ", NOT BACK)" }
		else line = line " " node ".goroutines_idle/after=" idle[node] "/" settled[node]
	}
	print (fail ? "FAIL" : "PASS") ":" line
	exit fail
}' "$OUT/soak.csv") || true
[[ $load_status == 0 ]] || verdict="FAIL (load: see $OUT/load.txt): ${verdict#*:}"
echo "soak: CSV $OUT/soak.csv, plot $OUT/soak.png, logs $OUT/*.log"
echo "soak verdict: $verdict"
[[ $verdict == PASS* ]]
