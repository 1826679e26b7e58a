#!/usr/bin/env bash
# Side-by-side load comparison of three 2-node clusters on one redis-server,
# all on loopback:
#
#   floor     loadtest/compare/floor: the least work a server can do for
#             loadgen's traffic (raw epoll, pre-shaped frames, one Redis
#             channel); a measuring stick, not a server
#   sockgate  this repo's gateway with the Redis adapter
#   node      Node.js socket.io 4 + @socket.io/redis-adapter
#   baseline  (only with BASELINE_BIN) another gateway binary, e.g. an
#             earlier release, run exactly like sockgate: before/after
#
# Each round starts one cluster, runs every scenario with loadgen, stops it,
# then does the same for the next; the order rotates between rounds. At the
# end it prints the medians side by side with the ratios sockgate/floor and
# sockgate/node. Server cost comes from /proc/<pid> of each node, because the
# load generator shares the machine's cores with the servers.
#
#   loadtest/compare/run.sh                       # defaults below
#   ROUNDS=3 FANOUT_N=1000 FANOUT_RATE=50 loadtest/compare/run.sh
#
# Knobs (environment):
#   ROUNDS=3             rounds (each runs every cluster)
#   IMPLS="floor sockgate node"       the clusters to compare
#   SCENARIOS="connect fanout echo"   any of connect fanout echo churn
#   CONNECT_N=2000       connect: connections (held CONNECT_HOLD)
#   CONNECT_HOLD=5s
#   FANOUT_N=1000        fanout: room members, spread over both nodes
#   FANOUT_RATE=50       fanout: messages/s (deliveries/s = rate × members)
#   FANOUT_MESSAGES=500  fanout: messages per run
#   PAYLOAD=64           bytes of padding per message / echo
#   ECHO_C=50            echo: clients, closed loop
#   ECHO_DURATION=5s
#   CHURN_N=200 CHURN_RATE=50 CHURN_DURATION=5s
#   BASELINE_BIN=<path>  a gateway binary to compare as "baseline" (add it to IMPLS)
#   OUT=<dir>            keep the JSON summaries there (default: a temp dir, removed)
#
# Needs: go, node (with the repo's node_modules: npm ci), redis-server.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

ROUNDS=${ROUNDS:-3}
IMPLS=${IMPLS:-"floor sockgate node"}
SCENARIOS=${SCENARIOS:-"connect fanout echo"}
CONNECT_N=${CONNECT_N:-2000}
CONNECT_HOLD=${CONNECT_HOLD:-5s}
FANOUT_N=${FANOUT_N:-1000}
FANOUT_RATE=${FANOUT_RATE:-50}
FANOUT_MESSAGES=${FANOUT_MESSAGES:-500}
PAYLOAD=${PAYLOAD:-64}
ECHO_C=${ECHO_C:-50}
ECHO_DURATION=${ECHO_DURATION:-5s}
CHURN_N=${CHURN_N:-200}
CHURN_RATE=${CHURN_RATE:-50}
CHURN_DURATION=${CHURN_DURATION:-5s}

for tool in go node redis-server; do
	command -v "$tool" >/dev/null || { echo "compare: $tool not found" >&2; exit 1; }
done
if [[ " $IMPLS " == *" baseline "* ]]; then
	[[ -x ${BASELINE_BIN:-} ]] || { echo "compare: IMPLS has baseline: set BASELINE_BIN to a gateway binary" >&2; exit 1; }
fi
if [[ " $IMPLS " == *" node "* ]]; then
	[[ -d node_modules/socket.io && -d node_modules/@socket.io/redis-adapter ]] ||
		{ echo "compare: node_modules missing: run npm ci at the repo root" >&2; exit 1; }
fi

work=$(mktemp -d)
out=${OUT:-$work/results}
mkdir -p "$out"
pids=()

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[compare %s] %s\n' "$(date +%T)" "$*" >&2; }

free_port() {
	node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# wait_http URL: poll until it answers 200, at most 20 s.
wait_http() {
	local i
	for ((i = 0; i < 200; i++)); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "compare: $1 did not come up" >&2
	return 1
}

log "building gateway and loadgen"
gw_build=(go build -o "$work/gateway" ./cmd/gateway)
if ! "${gw_build[@]}" 2>/dev/null; then
	go generate ./web
	"${gw_build[@]}"
fi
go build -o "$work/loadgen" ./loadtest/cmd/loadgen
go build -o "$work/floor" ./loadtest/compare/floor

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
	--daemonize no --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for ((i = 0; i < 100; i++)); do
	redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis_url=redis://127.0.0.1:$redis_port
log "redis-server pid $redis_pid on $redis_url"

cluster_pids=()
cluster_urls=()

# start_cluster IMPL: two nodes of sockgate or node on fresh ports.
start_cluster() {
	local impl=$1 i port
	cluster_pids=()
	cluster_urls=()
	for i in 1 2; do
		port=$(free_port)
		case $impl in
		sockgate) "$work/gateway" -addr "127.0.0.1:$port" -redis-url "$redis_url" -log-level warn \
			>"$work/$impl-$i.log" 2>&1 & ;;
		baseline) "$BASELINE_BIN" -addr "127.0.0.1:$port" -redis-url "$redis_url" -log-level warn \
			>"$work/$impl-$i.log" 2>&1 & ;;
		floor) "$work/floor" -addr "127.0.0.1:$port" -redis-url "$redis_url" \
			>"$work/$impl-$i.log" 2>&1 & ;;
		node) node loadtest/compare/node-server.js -addr "127.0.0.1:$port" -redis-url "$redis_url" \
			>"$work/$impl-$i.log" 2>&1 & ;;
		esac
		cluster_pids+=("$!")
		pids+=("$!")
		cluster_urls+=("http://127.0.0.1:$port")
	done
	for i in 0 1; do
		wait_http "${cluster_urls[$i]}/healthz" || {
			tail -n 20 "$work/$impl-$((i + 1)).log" >&2
			exit 1
		}
	done
	sleep 1 # let both nodes subscribe to Redis
	log "$impl cluster up: ${cluster_urls[*]} (pids ${cluster_pids[*]})"
}

stop_cluster() {
	local pid
	for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${cluster_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# run_scenario IMPL SCENARIO ROUND
run_scenario() {
	local impl=$1 sc=$2 round=$3 args=()
	case $sc in
	connect) args=(-n "$CONNECT_N" -hold "$CONNECT_HOLD") ;;
	fanout) args=(-n "$FANOUT_N" -rate "$FANOUT_RATE" -messages "$FANOUT_MESSAGES" -payload "$PAYLOAD") ;;
	echo) args=(-c "$ECHO_C" -duration "$ECHO_DURATION" -payload "$PAYLOAD") ;;
	churn) args=(-n "$CHURN_N" -rate "$FANOUT_RATE" -duration "$CHURN_DURATION" -churn-rate "$CHURN_RATE" -payload "$PAYLOAD") ;;
	esac
	local nodes pids_arg
	nodes=$(IFS=,; echo "${cluster_urls[*]}")
	pids_arg=$(IFS=,; echo "${cluster_pids[*]}")
	log "round $round: $impl $sc"
	"$work/loadgen" "$sc" -nodes "$nodes" -pids "$pids_arg" -redis-pid "$redis_pid" \
		-timeout 5m -progress 5s "${args[@]}" >"$out/$impl-$sc-$round.json"
}

read -r -a impls <<<"$IMPLS"
for ((round = 1; round <= ROUNDS; round++)); do
	# Rotate the order, so no implementation always runs first or last.
	order=()
	for ((i = 0; i < ${#impls[@]}; i++)); do
		order+=("${impls[$(((i + round - 1) % ${#impls[@]}))]}")
	done
	for impl in "${order[@]}"; do
		start_cluster "$impl"
		for sc in $SCENARIOS; do run_scenario "$impl" "$sc" "$round"; done
		stop_cluster
	done
done

node loadtest/compare/table.js "$out"
[[ -n ${OUT:-} ]] && log "JSON summaries kept in $out"
exit 0
