#!/usr/bin/env bash
# The load figures of docs/load.md: build posture, start servers on this
# machine with the demo estate, run `posture load` sweeps against them and
# print the tables.
#
#   bench/load.sh [sqlite] [postgres] [postgres3]
#
# sqlite: one server on SQLite. postgres: one server on PostgreSQL.
# postgres3: three replicas on one PostgreSQL schema, the generator's
# clients spread over them round-robin (there is no load balancer). With no
# argument: all three, the PostgreSQL ones only when POSTURE_TEST_POSTGRES_URL
# is set (each run gets a fresh schema, dropped at the end).
#
# Environment (defaults in brackets):
#   CLIENTS [1,8,64]   client counts of the sweep (e.g. 1,2,4,8,16,32,64,128)
#   DURATION [10s]     measured time per step     WARMUP [2s]  unmeasured time before each step
#   MIX [exemptions]   the --mix of posture load (exemptions, kql, portal, all, or name=weight,…)
#   REPEAT [1]         sweeps per server; with jq, the median of each step is printed after them
#   LOAD_ARGS []       more flags for posture load (e.g. "--p99-limit 50ms")
#   SERVE_ARGS [--rate-limit=off]  more flags for posture serve (the server's own throughput is
#                      measured, not its per-principal limits: the generator is one principal)
#   OUT [a temp dir]   where the JSON reports and server logs are kept
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CLIENTS=${CLIENTS:-1,8,64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
MIX=${MIX:-exemptions}
REPEAT=${REPEAT:-1}
LOAD_ARGS=${LOAD_ARGS:-}
SERVE_ARGS=${SERVE_ARGS---rate-limit=off}
OUT=${OUT:-$(mktemp -d -t posture-load.XXXXXX)}
mkdir -p "$OUT"
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
	runs=(sqlite)
	if [ -n "${POSTURE_TEST_POSTGRES_URL:-}" ]; then runs+=(postgres postgres3); fi
fi

pids=()
schemas=()
stop_servers() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
cleanup() {
	stop_servers
	for s in "${schemas[@]}"; do psql -q "$POSTURE_TEST_POSTGRES_URL" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

bin="$OUT/posture"
(cd "$root" && go build -o "$bin" ./cmd/posture)
commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
token="pst_load_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ledger_key=$(head -c 32 /dev/urandom | base64)
echo "posture load bench: commit $commit, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -r)"
echo "clients $CLIENTS, $DURATION per step after $WARMUP, mix $MIX, $REPEAT sweep(s) per server, serve $SERVE_ARGS; reports in $OUT"
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

# start NAME DATA_DIR [serve flags…]: starts a server and, once /readyz
# answers 200 (store up, views loaded), sets started to its URL.
start() {
	local name=$1 data=$2 port
	shift 2
	rm -rf "$data" # a fresh store, bootstrap token and ledger key
	port=$(free_port)
	POSTURE_BOOTSTRAP_TOKEN=$token POSTURE_LEDGER_KEY=$ledger_key \
		"$bin" serve --addr "127.0.0.1:$port" --data "$data" --log-level warn $SERVE_ARGS "$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 600); do
		if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
			started="http://127.0.0.1:$port"
			return
		fi
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then
			echo "server $name exited:" >&2
			cat "$OUT/$name.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "server $name was not ready within 120 s" >&2
	exit 1
}

# cpu_ticks: CPU time (clock ticks) used so far by the servers.
cpu_ticks() {
	local t=0
	for p in "${pids[@]}"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}

# sweep NAME URLS: REPEAT sweeps, their tables, then the medians.
sweep() {
	local name=$1 urls=$2 files=() t0 c0 t1 c1
	for i in $(seq 1 "$REPEAT"); do
		echo
		echo "== $name, sweep $i of $REPEAT (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		rm -f "$OUT/$name-$i.json"
		t0=$(date +%s.%N)
		c0=$(cpu_ticks)
		pidargs=()
		for p in "${pids[@]}"; do pidargs+=(--server-pid "$p"); done
		# shellcheck disable=SC2086
		"$bin" load --url "$urls" --token "$token" --mix "$MIX" --clients "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP" \
			"${pidargs[@]}" --save "$OUT/$name-$i.json" $LOAD_ARGS || echo "(some requests failed: see the statuses)"
		if [ ! -s "$OUT/$name-$i.json" ]; then
			echo "$name: posture load did not run (see its message above; the server's log is $OUT/$name*.log)" >&2
			exit 1
		fi
		t1=$(date +%s.%N)
		c1=$(cpu_ticks)
		echo "server CPU over the sweep (warmups included): $(awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f cores", c/hz/(b-a)}')"
		files+=("$OUT/$name-$i.json")
	done
	if [ "$REPEAT" -gt 1 ] && command -v jq >/dev/null; then
		echo
		echo "== $name, median of $REPEAT sweeps (total over the mix, then per operation: req/s, p50, p99 ms)"
		jq -rs '
			def median: sort | .[(length - 1) / 2 | floor];
			[.[].steps[]] | group_by(.clients)[] |
			"\(.[0].clients) clients: total \(map(.total.rps) | median) req/s, p50 \(map(.total.p50Ms) | median), p99 \(map(.total.p99Ms) | median), errors \(map(.total.errors) | add), server \(map(.serverCores) | median * 100 | round / 100) cores, \(map(.serverCpuPerRequestUs) | median) µs/request" ,
			([.[].operations[]] | group_by(.name)[] | "    \(.[0].name): \(map(.rps) | median) req/s, p50 \(map(.p50Ms) | median), p99 \(map(.p99Ms) | median)")
		' "${files[@]}"
	fi
}

# new_schema: a fresh schema (dropped at the end); sets db to a URL using it.
new_schema() {
	local s
	s="load_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	psql -q -v ON_ERROR_STOP=1 "$POSTURE_TEST_POSTGRES_URL" -c "CREATE SCHEMA $s" >/dev/null
	schemas+=("$s")
	case $POSTURE_TEST_POSTGRES_URL in
	*\?*) db="$POSTURE_TEST_POSTGRES_URL&search_path=$s" ;;
	*) db="$POSTURE_TEST_POSTGRES_URL?search_path=$s" ;;
	esac
}

for run in "${runs[@]}"; do
	case $run in
	sqlite)
		start sqlite "$OUT/sqlite-data" --demo
		sweep sqlite "$started"
		;;
	postgres | postgres3)
		if [ -z "${POSTURE_TEST_POSTGRES_URL:-}" ]; then
			echo "$run: set POSTURE_TEST_POSTGRES_URL" >&2
			exit 2
		fi
		new_schema
		# The first replica creates the store and the demo estate; the
		# others start on it.
		start "$run-1" "$OUT/$run-1" --database-url "$db" --demo
		urls=$started
		if [ "$run" = postgres3 ]; then
			for r in 2 3; do
				start "$run-$r" "$OUT/$run-$r" --database-url "$db"
				urls="$urls,$started"
			done
		fi
		sweep "$run" "$urls"
		;;
	*)
		echo "unknown run $run (sqlite, postgres, postgres3)" >&2
		exit 2
		;;
	esac
	stop_servers
done
