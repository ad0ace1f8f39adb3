#!/usr/bin/env bash
# bench.sh — end-to-end benchmark (`make bench`). Starts a dedicated
# PostgreSQL (fsync ON: every 202 follows a durable commit) and Redis under
# .local/bench, recreates the switchboard database, starts bin/switchboard
# serve against it and runs cmd/sbbench. Everything it started is stopped on
# exit. See docs/PERFORMANCE.md for what the numbers mean.
#
#   N=20000 C=32 RATE=1000 scripts/bench.sh [extra sbbench flags, e.g. -json]
#
# Environment: N (phase-1 messages, default 20000), C (phase-1 clients,
# default 32), RATE (phase-2 offered msg/s, default 1000), RATE_SECONDS
# (phase-2 length, default 10), BENCH_PG / BENCH_REDIS (ports, default
# 25434 / 26381), BENCH_KEEP=1 to leave the stack running afterwards,
# BENCH_ROLE=api to run the server without workers and measure accepting
# alone (sbbench -accept-only: nothing is delivered), SWITCHBOARD_BIN to
# benchmark another server binary than bin/switchboard (e.g. one built from
# a clean checkout of a commit) and BENCH_BUILD to label it in the report,
# BENCH_DB_SETTINGS="name=value ..." to try PostgreSQL settings for the
# server's connections (ALTER DATABASE switchboard SET name = value), e.g.
# "plan_cache_mode=force_custom_plan" or "commit_delay=100", BENCH_PPROF=1
# to save CPU profiles of the server during phase 1 (needs a build with
# SWITCHBOARD_PPROF_ADDR) and print their top functions.
# Any SWITCHBOARD_* tuning variable set by the caller (e.g.
# SWITCHBOARD_WORKER_CONCURRENCY, SWITCHBOARD_DB_MAX_CONNS) reaches the server.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
N=${N:-20000}
C=${C:-32}
RATE=${RATE:-1000}
RATE_SECONDS=${RATE_SECONDS:-10}
pgport=${BENCH_PG:-25434}
redisport=${BENCH_REDIS:-26381}
role=${BENCH_ROLE:-all}
server=${SWITCHBOARD_BIN:-bin/switchboard}
if [ -z "${BENCH_BUILD:-}" ]; then
	BENCH_BUILD="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	# The benchmark's own files do not change what is measured.
	changed=$(git status --porcelain -- '*.go' go.mod go.sum migrations ':!cmd/sbbench' 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
	[ -n "$changed" ] && BENCH_BUILD="$BENCH_BUILD + uncommitted changes to: $changed"
	[ "$server" != bin/switchboard ] && BENCH_BUILD="$server (the checkout is $BENCH_BUILD)"
fi
extra=()
[ "$role" = api ] && extra+=(-accept-only)
addr=127.0.0.1:18090
dir="$root/.local/bench"
server_pid=""

cleanup() {
	local rc=$?
	bench_stop_server
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		scripts/stack.sh stop bench >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build

echo "bench: starting PostgreSQL :$pgport and Redis :$redisport (fsync on) under .local/bench" >&2
eval "$(scripts/stack.sh start bench "$pgport" "$redisport" on)"

bench_fresh_db bench "$pgport" "$redisport"
for kv in ${BENCH_DB_SETTINGS:-}; do
	echo "bench: ALTER DATABASE switchboard SET ${kv%%=*} = '${kv#*=}'" >&2
	"$psql" -h 127.0.0.1 -p "$pgport" -U postgres -d postgres -qX \
		-c "ALTER DATABASE switchboard SET ${kv%%=*} = '${kv#*=}'" >&2
done
if [ -n "${BENCH_DB_SETTINGS:-}" ]; then
	BENCH_BUILD="${BENCH_BUILD}; database settings: $BENCH_DB_SETTINGS"
fi
"$server" migrate >&2

umask 077
"$server" accounts create --name bench --json >"$dir/account.json"
key=$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' "$dir/account.json")

echo "bench: starting $server serve --role $role on $addr (log: .local/bench/server.log)" >&2
pprof_addr=127.0.0.1:16060
if [ "${BENCH_PPROF:-0}" = 1 ]; then
	export SWITCHBOARD_PPROF_ADDR=$pprof_addr
	rm -f "$dir"/cpu-*.pprof
	extra+=(-pprof "http://$pprof_addr" -pprof-dir "$dir")
fi
SWITCHBOARD_HTTP_ADDR=$addr \
	SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true \
	SWITCHBOARD_SANDBOX_DELAY=0s \
	SWITCHBOARD_LOG_LEVEL=warn \
	"$server" serve --role "$role" 2>"$dir/server.log" &
server_pid=$!
bench_wait_ready bench "$addr" "$dir/server.log"

bench_stack_pids "$pgport" "$redisport"

# Give a phase time to drain at a few hundred msg/s before calling it stuck.
wait=$(( N / 150 > 90 ? N / 150 : 90 ))s
echo "bench: nproc=$(nproc); N=$N C=$C RATE=$RATE for ${RATE_SECONDS}s" >&2
bin/sbbench -url "http://$addr" -key "$key" \
	-db "$SWITCHBOARD_DATABASE_URL" -redis "$SWITCHBOARD_REDIS_URL" \
	-n "$N" -c "$C" -rate "$RATE" -rate-duration "${RATE_SECONDS}s" -wait "$wait" \
	-server-pid "$server_pid" -pg-pid "$pg_pid" -redis-pid "$redis_pid" \
	-build "$BENCH_BUILD" -out "$dir/last.json" "${extra[@]}" "$@"
echo "bench: JSON summary in .local/bench/last.json" >&2
for prof in "$dir"/cpu-*.pprof; do
	[ -s "$prof" ] || continue
	echo "bench: top of $prof (go tool pprof -top $server $prof)" >&2
	go tool pprof -top -nodecount=25 "$server" "$prof" 2>/dev/null | sed -n '1,32p' >&2 || true
done
