#!/usr/bin/env bash
# A local sockgate cluster without Docker: one redis-server and NODES gateway
# nodes on loopback ports BASE_PORT, BASE_PORT+1, ... (default 3001-3003), all
# on the same Redis. Ctrl-C drains the nodes and stops everything.
#
#   scripts/cluster.sh                       # or: make cluster
#   NODES=2 BASE_PORT=4001 REDIS_PORT=6390 scripts/cluster.sh
#   scripts/cluster.sh -redis-sharded        # extra flags go to every node
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
BASE_PORT=${BASE_PORT:-3001}
REDIS_PORT=${REDIS_PORT:-6379}
HOST=127.0.0.1

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

command -v redis-server >/dev/null || {
	echo "cluster: redis-server not found (scripts/deps.sh redis installs it as root, or apt-get install redis-server)" >&2
	exit 1
}
for ((i = 0; i < NODES; i++)); do
	if port_busy $((BASE_PORT + i)); then
		echo "cluster: port $((BASE_PORT + i)) is in use (set BASE_PORT)" >&2
		exit 1
	fi
done
if port_busy "$REDIS_PORT"; then
	echo "cluster: port $REDIS_PORT is in use (set REDIS_PORT to a free port)" >&2
	exit 1
fi

mkdir -p bin
go build -o bin/gateway ./cmd/gateway

work=$(mktemp -d)
pids=()
redis_pid=

stop() {
	trap - INT TERM EXIT
	echo
	echo "cluster: stopping ${#pids[@]} nodes (draining)..."
	((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null || true
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $redis_pid ]]; then
		echo "cluster: stopping redis-server"
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
	echo "cluster: stopped"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# setsid keeps the children out of the terminal's process group: Ctrl-C
# reaches only this script, which then stops the nodes first (they drain
# while Redis is still up) and Redis last.
detach=()
command -v setsid >/dev/null && detach=(setsid)

"${detach[@]}" redis-server --bind "$HOST" --port "$REDIS_PORT" --save '' --appendonly no \
	--dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
for ((i = 0; i < 100; i++)); do
	port_busy "$REDIS_PORT" && break
	sleep 0.1
done
port_busy "$REDIS_PORT" || { echo "cluster: redis-server did not start:" >&2; cat "$work/redis.log" >&2; exit 1; }

for ((i = 0; i < NODES; i++)); do
	port=$((BASE_PORT + i))
	# Each node's log lines are prefixed with its name. The prefixing sed
	# ignores Ctrl-C so that it outlives the node (whose drain logs would
	# otherwise hit a closed pipe).
	"${detach[@]}" bin/gateway -addr "$HOST:$port" -redis-url "redis://$HOST:$REDIS_PORT" "$@" \
		> >(trap '' INT TERM; exec sed -u "s/^/[node$((i + 1))] /") 2>&1 &
	pids+=($!)
done

# Wait until every node is ready.
for ((i = 0; i < NODES; i++)); do
	port=$((BASE_PORT + i))
	for ((t = 0; t < 100; t++)); do
		port_busy "$port" && break
		kill -0 "${pids[$i]}" 2>/dev/null || { echo "cluster: node$((i + 1)) exited" >&2; exit 1; }
		sleep 0.1
	done
done

echo
echo "cluster: redis-server on $HOST:$REDIS_PORT; $NODES sockgate nodes:"
for ((i = 0; i < NODES; i++)); do
	port=$((BASE_PORT + i))
	echo "  node$((i + 1)): http://$HOST:$port/   (metrics http://$HOST:$port/metrics, ready http://$HOST:$port/readyz)"
done
echo "Open the chat demo on two different nodes and join the same room. Ctrl-C stops everything."
echo

# Wait until a node dies or Ctrl-C.
wait -n "${pids[@]}" || true
echo "cluster: a node exited" >&2
exit 1
