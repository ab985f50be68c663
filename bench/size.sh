#!/usr/bin/env bash
# The sizing figures of docs/sizing.md: generate an estate, import it
# straight into a store, seed exemptions into it, start the server (which
# evaluates the estate with queued jobs), then restart the server over the
# full store and time a few exemption writes. Prints, per store: import
# time and rate, evaluation time and CPU, start-up time, peak and steady
# RSS, disk size.
#
#   bench/size.sh [sqlite] [postgres]
#
# With no argument: sqlite, and postgres when POSTURE_TEST_POSTGRES_URL is
# set (a fresh schema, dropped at the end unless KEEP=1).
#
# Environment (defaults in brackets):
#   RESOURCES [1000000]   top-level resources of the generated estate (children come on top)
#   EXEMPTIONS [100000]   exemptions seeded into the store after the import (0: none), spread over
#                         the top-level resources (TestSizeSeedExemptions in cmd/posture)
#   SCANNER [0]           custom assessments (a scanner's findings) on every top-level resource,
#                         on top of the benchmark's (`posture demo generate --scanner`)
#   WRITES [100]          exemptions PUT one after another through the API after the restart
#   MAX_RSS_GB [15]       the server is killed (and the run reported failed) above this RSS
#   GOMEMLIMIT []         passed to the server (e.g. 12GiB) when set
#   OUT [a temp dir]      estate, data, logs and the binary; an estate already there is reused
#   REUSE []              1: start from the data an earlier run imported and seeded (sqlite), as
#                         the server that run stopped left it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RESOURCES=${RESOURCES:-1000000}
EXEMPTIONS=${EXEMPTIONS:-100000}
WRITES=${WRITES:-100}
SCANNER=${SCANNER:-0}
MAX_RSS_GB=${MAX_RSS_GB:-15}
OUT=${OUT:-$(mktemp -d -t posture-size.XXXXXX)}
mkdir -p "$OUT"
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
	runs=(sqlite)
	if [ -n "${POSTURE_TEST_POSTGRES_URL:-}" ]; then runs+=(postgres); fi
fi

bin="$OUT/posture"
(cd "$root" && go build -o "$bin" ./cmd/posture)
commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
token="pst_size_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "posture size bench: commit $commit, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/Mem:/{print $2}') GB RAM, $(uname -r)"
echo "estate of $RESOURCES top-level resources with $SCANNER scanner findings each, $EXEMPTIONS exemptions; output in $OUT"

server=
schemas=()
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	if [ -z "${KEEP:-}" ]; then
		for s in "${schemas[@]}"; do psql -q "$POSTURE_TEST_POSTGRES_URL" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
	fi
}
trap cleanup EXIT

estate="$OUT/estate-$RESOURCES"
if [ "$SCANNER" -gt 0 ]; then estate="$estate-scanner-$SCANNER"; fi
if [ ! -f "$estate/.done" ]; then
	rm -rf "$estate"
	"$bin" demo generate --resources "$RESOURCES" --scanner "$SCANNER" --out "$estate"
	touch "$estate/.done"
fi

# kb FILE FIELD: a "Maximum resident set size" style number of time -v.
kb() { awk -F: -v f="$2" '$0 ~ f {gsub(/ /,"",$2); print $2}' "$1"; }
gb() { awk -v k="$1" 'BEGIN{printf "%.2f GB", k/1048576}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
status() { awk -v f="$2:" '$1==f{v=$2} END{print v+0}' "/proc/$1/status" 2>/dev/null || echo 0; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# serve NAME: starts the server on the store and waits for /readyz; sets
# url, t_start, t_ready. A watchdog kills it above MAX_RSS_GB.
serve() {
	local name=$1 port
	port=$(free_port)
	url="http://127.0.0.1:$port"
	t_start=$(date +%s.%N)
	# shellcheck disable=SC2086
	POSTURE_BOOTSTRAP_TOKEN=$token "$bin" serve --addr "127.0.0.1:$port" $store_flags --log-level info >"$OUT/$run-$name.log" 2>&1 &
	server=$!
	(
		limit=$((MAX_RSS_GB * 1048576))
		while kill -0 "$server" 2>/dev/null; do
			if [ "$(status "$server" VmRSS)" -gt "$limit" ]; then
				echo "RSS over $MAX_RSS_GB GB: killing the server" >>"$OUT/$run-$name.log"
				kill -9 "$server"
			fi
			sleep 1
		done
	) &
	until curl -fsS "$url/readyz" >/dev/null 2>&1; do
		if ! kill -0 "$server" 2>/dev/null; then
			echo "the server exited:" >&2
			tail -20 "$OUT/$run-$name.log" >&2
			exit 1
		fi
		sleep 1
	done
	t_ready=$(date +%s.%N)
}

stop() {
	kill "$server"
	wait "$server" || true
	server=
}

# pending: how many evaluation jobs are queued or running.
pending() {
	local n=0 s
	for s in Pending Running; do
		n=$((n + $(curl -fsS -H "Authorization: Bearer $token" \
			"$url/providers/Posture.Queue/jobs?api-version=2026-11-01&%24filter=state%20eq%20%27$s%27" |
			grep -o '"kind":"compliance.evaluate' | wc -l)))
	done
	echo $n
}

disk() {
	if [ "$run" = sqlite ]; then
		du -sk "$data" | awk '{printf "%.2f GB", $1/1048576}'
	else
		psql -tA "$POSTURE_TEST_POSTGRES_URL" -c "SELECT round(sum(pg_total_relation_size(c.oid))/1073741824.0, 2) || ' GB' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$schema' AND c.relkind IN ('r', 'm')"
	fi
}

for run in "${runs[@]}"; do
	echo
	echo "== $run"
	data="$OUT/data-$run"
	if [ -n "${REUSE:-}" ] && [ "$run" = postgres ]; then
		echo "REUSE works with sqlite only (each postgres run has its own schema)" >&2
		exit 2
	fi
	if [ -z "${REUSE:-}" ]; then
		rm -rf "$data"
	fi
	mkdir -p "$data"
	store_flags="--data $data"
	if [ "$run" = postgres ]; then
		schema="size_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
		psql -q -v ON_ERROR_STOP=1 "$POSTURE_TEST_POSTGRES_URL" -c "CREATE SCHEMA $schema" >/dev/null
		schemas+=("$schema")
		case $POSTURE_TEST_POSTGRES_URL in
		*\?*) db="$POSTURE_TEST_POSTGRES_URL&search_path=$schema" ;;
		*) db="$POSTURE_TEST_POSTGRES_URL?search_path=$schema" ;;
		esac
		store_flags="--data $data --database-url $db"
	fi

	# 1. Import (no server: the estate is marked stale).
	if [ -n "${REUSE:-}" ]; then
		token=$(cat "$data/bootstrap-token") # the store knows the first run's
		docs=$(grep -o '[0-9]* read' "$OUT/$run-import.log" | cut -d' ' -f1)
		echo "reusing the store of $OUT/$run-import.log: $docs documents, disk $(disk)"
	else
		# shellcheck disable=SC2086
		/usr/bin/time -v "$bin" import --direct $store_flags "$estate" >"$OUT/$run-import.log" 2>&1
		grep '^imported' "$OUT/$run-import.log"
		docs=$(grep -o '[0-9]* read' "$OUT/$run-import.log" | cut -d' ' -f1)
		echo "import: peak RSS $(gb "$(kb "$OUT/$run-import.log" 'Maximum resident')"), CPU $(awk -F: '/User time|System time/{s+=$2} END{printf "%.0f s", s}' "$OUT/$run-import.log"), disk $(disk)"
	fi

	# 2. Exemptions, written straight into the store (the estate is stale
	# anyway: the first start evaluates and stamps them).
	if [ "$EXEMPTIONS" -gt 0 ] && [ -z "${REUSE:-}" ]; then
		t0=$(date +%s.%N)
		seed_url=""
		if [ "$run" = postgres ]; then seed_url=$db; fi
		(cd "$root" && POSTURE_SEED_EXEMPTIONS=$EXEMPTIONS POSTURE_SEED_DATA=$data POSTURE_SEED_DATABASE_URL=$seed_url \
			go test ./cmd/posture -run '^TestSizeSeedExemptions$' -count=1 -timeout 2h) >"$OUT/$run-seed.log" 2>&1 || { tail -20 "$OUT/$run-seed.log"; exit 1; }
		echo "exemptions: $EXEMPTIONS seeded in $(secs "$t0" "$(date +%s.%N)") s (go test build included), disk $(disk)"
	fi

	# 3. First start: the server queues the evaluation of every assignment
	# and its queue works through the jobs.
	serve first
	cpu_ready=$(awk -v c="$(ticks "$server")" -v h="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", c/h}')
	echo "first start: ready (Resource Graph tables loaded) after $(secs "$t_start" "$t_ready") s, server CPU $cpu_ready s, RSS $(gb "$(status "$server" VmRSS)")"
	sleep 2
	while [ "$(pending)" -gt 0 ]; do sleep 5; done
	t_eval=$(date +%s.%N)
	cpu=$(awk -v c="$(ticks "$server")" -v h="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", c/h}')
	count() {
		curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$url/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01" \
			-d "{\"query\":\"$1 | count\"}" | grep -o '"Count":[0-9]*' | cut -d: -f2
	}
	states=$(count "policyresources | where type == 'microsoft.policyinsights/policystates'")
	assessments=$(count "securityresources | where type == 'microsoft.security/assessments'")
	if [ "$SCANNER" -gt 0 ]; then
		assessments="$assessments ($(count "securityresources | where type == 'microsoft.security/assessments' and properties.metadata.assessmentType == 'BuiltIn'") of the benchmark)"
	fi
	echo "evaluation: done $(secs "$t_start" "$t_eval") s after start, server CPU $cpu s since start; $states policy states, $assessments assessments of $docs documents"
	echo "  evaluation: $(awk -v d="$docs" -v c="$((cpu - cpu_ready))" 'BEGIN{printf "%.0f documents per CPU-second", d/c}') (server CPU from ready to done); peak RSS $(gb "$(status "$server" VmHWM)"), now $(gb "$(status "$server" VmRSS)")"

	stop
	echo "disk: $(disk)"

	# 4. Restart over the full store, then WRITES exemption PUTs in turn.
	serve restart
	sleep 5
	echo "restart: ready after $(secs "$t_start" "$t_ready") s, peak RSS $(gb "$(status "$server" VmHWM)"), RSS $(gb "$(status "$server" VmRSS)")"
	if [ "$WRITES" -gt 0 ]; then
		python3 - "$estate" "$WRITES" >"$OUT/writes.txt" <<'EOF'
import glob, json, sys
estate, n = sys.argv[1], int(sys.argv[2])
out = 0
for f in sorted(glob.glob(estate + "/*.json"))[::-1]:
    for d in json.load(open(f))["value"][::97]:
        if d["id"].count("/") == 8 and "/resourceGroups/" in d["id"] and out < n:
            print(d["id"], d["id"].split("/")[2])
            out += 1
EOF
		while read -r rid sub; do
			curl -fsS -o /dev/null -w '%{time_total}\n' -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
				"$url$rid/providers/Microsoft.Authorization/policyExemptions/size-write?api-version=2022-07-01-preview" \
				-d "{\"properties\":{\"policyAssignmentId\":\"/subscriptions/$sub/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn\",\"exemptionCategory\":\"Mitigated\"}}"
		done <"$OUT/writes.txt" | sort -n | awk '{t[NR]=$1} END{printf "exemption PUTs one at a time: %d, p50 %.0f ms, p99 %.0f ms\n", NR, 1000*t[int(NR/2)+1], 1000*t[int((NR*99+99)/100)]}'
		echo "after the writes: peak RSS $(gb "$(status "$server" VmHWM)"), RSS $(gb "$(status "$server" VmRSS)")"
	fi
	stop
done
