#!/usr/bin/env bash
# bench-rtc.sh — the browser-call benchmark (`make bench-rtc`). Starts a
# dedicated PostgreSQL (fsync ON) and Redis under .local/bench-rtc on their
# own ports, recreates the switchboard database, starts bin/switchboard
# serve against it with browser calls on loopback (SWITCHBOARD_RTC_LOOPBACK)
# and espeak prompts, and runs `sbbench -mode rtc`: CALLS pion
# PeerConnections, opened at RAMP calls/s, each through a bot flow (a ~13 s
# prompt, press 1, a second prompt, the bot hangs up). Everything it
# started is stopped on exit. See docs/PERFORMANCE.md, "Browser calls
# (WebRTC)", for what the numbers mean.
#
#   CALLS=200 RAMP=50 scripts/bench-rtc.sh [extra sbbench flags, e.g. -json, -rtc-dtmf rfc4733]
#
# Environment: CALLS (default 200), RAMP (calls started per second, default
# 50), TTS (SWITCHBOARD_TTS_ENGINE, default espeak: the prompts must be real
# audio), BENCH_RTC_PG / BENCH_RTC_REDIS (ports, default 25438 / 26385),
# BENCH_KEEP=1 to leave the stack running, SERVER_NICE (default 0; e.g. -10, as root,
# gives the server priority over sbbench and anything else on the machine,
# as if it had the box to itself), SWITCHBOARD_BIN and BENCH_BUILD as in
# scripts/bench.sh. The server runs with SWITCHBOARD_PPROF_ADDR on
# 127.0.0.1:16062; PPROF_SECONDS=N (default 0: off) saves an N-second CPU
# profile of the server from 3 s after the first call starts
# (.local/bench-rtc/cpu-rtc.pprof) and prints its top.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
CALLS=${CALLS:-200}
RAMP=${RAMP:-50}
TTS=${TTS:-espeak}
PPROF_SECONDS=${PPROF_SECONDS:-0}
SERVER_NICE=${SERVER_NICE:-0}
pgport=${BENCH_RTC_PG:-25438}
redisport=${BENCH_RTC_REDIS:-26385}
server=${SWITCHBOARD_BIN:-bin/switchboard}
if [ -z "${BENCH_BUILD:-}" ]; then
	BENCH_BUILD="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	changed=$(git status --porcelain -- '*.go' go.mod go.sum migrations ':!cmd/sbbench' ':!*_test.go' 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
	[ -n "$changed" ] && BENCH_BUILD="$BENCH_BUILD + uncommitted changes to: $changed"
	[ "$server" != bin/switchboard ] && BENCH_BUILD="$server (the checkout is $BENCH_BUILD)"
fi
addr=127.0.0.1:18092
pprof_addr=127.0.0.1:16062
name=bench-rtc
dir="$root/.local/$name"
server_pid=""
prof_pid=""

cleanup() {
	local rc=$?
	if [ -n "$prof_pid" ] && kill -0 "$prof_pid" 2>/dev/null; then
		kill "$prof_pid" 2>/dev/null || true
	fi
	bench_stop_server
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		scripts/stack.sh stop "$name" >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build
if [ "$TTS" = espeak ] && ! command -v espeak-ng >/dev/null 2>&1; then
	echo "bench-rtc: espeak-ng is not installed (apt-get install espeak-ng): the prompts would be silent" >&2
	exit 1
fi

echo "bench-rtc: starting PostgreSQL :$pgport and Redis :$redisport (fsync on) under .local/$name" >&2
eval "$(scripts/stack.sh start "$name" "$pgport" "$redisport" on)"
mkdir -p "$dir"

bench_fresh_db bench-rtc "$pgport" "$redisport"
"$server" migrate >&2

umask 077
# Browser tokens are signed with a key derived from the master key.
[ -s "$dir/master.key" ] || "$server" keys generate >"$dir/master.key"
export SWITCHBOARD_MASTER_KEY
SWITCHBOARD_MASTER_KEY=$(cat "$dir/master.key")
"$server" accounts create --name bench-rtc --json >"$dir/account.json"
key=$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' "$dir/account.json")

echo "bench-rtc: starting $server serve on $addr, SWITCHBOARD_RTC_LOOPBACK=true, SWITCHBOARD_TTS_ENGINE=$TTS, nice $SERVER_NICE (log: .local/$name/server.log)" >&2
rm -f "$dir"/cpu-*.pprof
SWITCHBOARD_HTTP_ADDR=$addr \
	SWITCHBOARD_PPROF_ADDR=$pprof_addr \
	SWITCHBOARD_TTS_ENGINE=$TTS \
	SWITCHBOARD_RTC_LOOPBACK=true \
	SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true \
	SWITCHBOARD_LOG_LEVEL=warn \
	nice -n "$SERVER_NICE" "$server" serve 2>"$dir/server.log" &
server_pid=$!
bench_wait_ready bench-rtc "$addr" "$dir/server.log"

bench_stack_pids "$pgport" "$redisport"

rm -f "$dir/sbbench.log"
if [ "$PPROF_SECONDS" -gt 0 ]; then
	# Start the profile once the ramp is well under way (sbbench waits up
	# to 20 s for a quiet machine first; the profile waits for the first call).
	(
		for _ in $(seq 600); do
			grep -q 'rtc: opening' "$dir/sbbench.log" 2>/dev/null && break
			sleep 0.1
		done
		sleep 3
		curl -fsS -o "$dir/cpu-rtc.pprof" "http://$pprof_addr/debug/pprof/profile?seconds=$PPROF_SECONDS" || true
	) &
	prof_pid=$!
fi

echo "bench-rtc: nproc=$(nproc); CALLS=$CALLS RAMP=$RAMP TTS=$TTS" >&2
rc=0
bin/sbbench -mode rtc -url "http://$addr" -key "$key" \
	-calls "$CALLS" -ramp "$RAMP" -tts "$TTS" \
	-server-pid "$server_pid" -pg-pid "$pg_pid" -redis-pid "$redis_pid" \
	-build "$BENCH_BUILD" -out "$dir/last.json" "$@" 2> >(tee "$dir/sbbench.log" >&2) || rc=$?
echo "bench-rtc: JSON summary in .local/$name/last.json; server log in .local/$name/server.log" >&2
if [ -n "$prof_pid" ]; then
	wait "$prof_pid" 2>/dev/null || true
	prof_pid=""
	if [ -s "$dir/cpu-rtc.pprof" ]; then
		echo "bench-rtc: top of $dir/cpu-rtc.pprof (go tool pprof -top $server $dir/cpu-rtc.pprof)" >&2
		go tool pprof -top -nodecount=30 "$server" "$dir/cpu-rtc.pprof" 2>/dev/null | sed -n '1,37p' >&2 || true
	fi
fi
exit "$rc"
