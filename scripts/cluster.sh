#!/usr/bin/env bash
# Starts a local c1m cluster: a NATS server (with JetStream) and N c1m
# nodes that share one client port (-reuse-port: the kernel spreads new
# connections over them), each node with its own API port. Ctrl-C, SIGTERM
# or the end of the script stops every process it started, and nothing
# else.
#
#   scripts/cluster.sh                 # 3 nodes, clients on :8080
#   scripts/cluster.sh -n 5 -p 9000    # 5 nodes, clients on :9000
#   scripts/cluster.sh -- -history 500 # extra flags for every node
#
# Options (and their environment variables):
#   -n NODES      nodes (NODES, 3)
#   -p PORT       shared client port on 127.0.0.1 (PORT, 8080)
#   -a API_BASE   node i's API is on API_BASE+i (API_BASE, 9080)
#   -N NATS_PORT  NATS client port (NATS_PORT, 4222); its monitoring
#                 endpoint (/varz) is on NATS_MON (8222)
#   -t SECONDS    stop by itself after this long (DURATION, 0: until Ctrl-C)
#
# nats-server is built once from its Go module (github.com/nats-io/
# nats-server/v2 at NATS_VERSION, through the Go module proxy) into
# ~/.cache/c1m/nats-server-VERSION; c1m is built from this checkout.
# Logs and the NATS store go to a temporary folder, printed at start and
# removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
PORT=${PORT:-8080}
API_BASE=${API_BASE:-9080}
NATS_PORT=${NATS_PORT:-4222}
NATS_MON=${NATS_MON:-8222}
DURATION=${DURATION:-0}
NATS_VERSION=${NATS_VERSION:-v2.15.2}

while getopts "n:p:a:N:t:h" opt; do
	case $opt in
	n) NODES=$OPTARG ;;
	p) PORT=$OPTARG ;;
	a) API_BASE=$OPTARG ;;
	N) NATS_PORT=$OPTARG ;;
	t) DURATION=$OPTARG ;;
	*) sed -n '2,25p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
extra=("$@")

cache="${XDG_CACHE_HOME:-$HOME/.cache}/c1m/nats-server-$NATS_VERSION"
nats="$cache/nats-server"
if [ ! -x "$nats" ]; then
	echo "cluster: building nats-server $NATS_VERSION into $cache" >&2
	mkdir -p "$cache"
	(cd "${TMPDIR:-/tmp}" && GOBIN="$cache" GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$NATS_VERSION")
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/c1m-cluster.XXXXXX")
echo "cluster: logs in $dir" >&2
go build -o "$dir/c1m" ./cmd/c1m

pids=()
sleeper=
stopping=0
stop() {
	[ $stopping = 1 ] && return
	stopping=1
	set +e # a process already gone must not stop the cleanup
	trap - INT TERM EXIT
	[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
	echo "cluster: stopping ${#pids[@]} processes" >&2
	# Nodes first (they drain their clients), NATS last; each by its id.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	for _ in $(seq 1 100); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "cluster: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# wait_tcp PORT PID: until 127.0.0.1:PORT accepts, or process PID exits, or 30 s.
wait_tcp() {
	local port=$1 pid=$2
	for _ in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { echo "cluster: process $pid exited (log in $dir)" >&2; return 1; }
		sleep 0.1
	done
	echo "cluster: nothing listens on $port after 30 s" >&2
	return 1
}

"$nats" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON" -js -sd "$dir/nats" >"$dir/nats.log" 2>&1 &
pids+=($!)
wait_tcp "$NATS_PORT" "${pids[-1]}"
echo "cluster: NATS on nats://127.0.0.1:$NATS_PORT (monitoring http://127.0.0.1:$NATS_MON/varz)" >&2

for ((i = 0; i < NODES; i++)); do
	api=$((API_BASE + i))
	"$dir/c1m" -listen "127.0.0.1:$PORT" -reuse-port -api "127.0.0.1:$api" \
		-nats "nats://127.0.0.1:$NATS_PORT" -node-id "node-$i" "${extra[@]}" >"$dir/node-$i.log" 2>&1 &
	pids+=($!)
done
for ((i = 0; i < NODES; i++)); do
	wait_tcp $((API_BASE + i)) "${pids[i + 1]}"
	echo "cluster: node-$i API http://127.0.0.1:$((API_BASE + i))" >&2
done
echo "cluster: $NODES nodes, clients on ws://127.0.0.1:$PORT/ws (Ctrl-C stops everything)" >&2

if [ "$DURATION" -gt 0 ]; then
	sleep "$DURATION" &
	sleeper=$!
	wait "$sleeper" || true
else
	# Until a signal, or until any process of the cluster exits.
	wait -n "${pids[@]}" || true
	echo "cluster: a process exited; stopping the rest" >&2
fi
