#!/usr/bin/env bash
# bench-voice.sh — the voice benchmark (`make bench-voice`). Starts a
# dedicated PostgreSQL (fsync ON) and Redis under .local/bench-voice on
# their own ports, recreates the switchboard database, starts
# bin/switchboard serve against it and runs `sbbench -mode calls`: CALLS
# sandbox calls through a 5-step flow (say, gather | branch, say, hangup),
# every caller pressing its digit at once. Everything it started is stopped
# on exit. See docs/PERFORMANCE.md, "Voice", for what the numbers mean.
#
#   CALLS=1000 TTS=none scripts/bench-voice.sh [extra sbbench flags, e.g. -json]
#
# Environment: CALLS (default 1000), C (concurrent clients placing calls,
# default CALLS), TURN_C (concurrent clients pressing digits, default C),
# TTS (the server's SWITCHBOARD_TTS_ENGINE: none (default) measures without
# speech; espeak renders every prompt through the TTS cache),
# BENCH_VOICE_PG / BENCH_VOICE_REDIS (ports, default 25437 / 26384),
# BENCH_KEEP=1 to leave the stack running, SWITCHBOARD_BIN and BENCH_BUILD
# as in scripts/bench.sh. The server runs with SWITCHBOARD_PPROF_ADDR so
# sbbench can force a GC before reading its memory and save a CPU profile
# of the DTMF turns (.local/bench-voice/cpu-calls-turn.pprof) and a heap
# profile while every call waits (heap-calls-waiting.pprof).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
CALLS=${CALLS:-1000}
C=${C:-$CALLS}
TURN_C=${TURN_C:-$C}
TTS=${TTS:-none}
pgport=${BENCH_VOICE_PG:-25437}
redisport=${BENCH_VOICE_REDIS:-26384}
server=${SWITCHBOARD_BIN:-bin/switchboard}
if [ -z "${BENCH_BUILD:-}" ]; then
	BENCH_BUILD="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	changed=$(git status --porcelain -- '*.go' go.mod go.sum migrations ':!cmd/sbbench' ':!*_test.go' 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
	[ -n "$changed" ] && BENCH_BUILD="$BENCH_BUILD + uncommitted changes to: $changed"
	[ "$server" != bin/switchboard ] && BENCH_BUILD="$server (the checkout is $BENCH_BUILD)"
fi
addr=127.0.0.1:18091
pprof_addr=127.0.0.1:16061
name=bench-voice
dir="$root/.local/$name"
server_pid=""

cleanup() {
	local rc=$?
	bench_stop_server
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		scripts/stack.sh stop "$name" >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build

echo "bench-voice: starting PostgreSQL :$pgport and Redis :$redisport (fsync on) under .local/$name" >&2
eval "$(scripts/stack.sh start "$name" "$pgport" "$redisport" on)"
mkdir -p "$dir"

bench_fresh_db bench-voice "$pgport" "$redisport"
"$server" migrate >&2

umask 077
"$server" accounts create --name bench-voice --json >"$dir/account.json"
key=$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' "$dir/account.json")

echo "bench-voice: starting $server serve on $addr, SWITCHBOARD_TTS_ENGINE=$TTS (log: .local/$name/server.log)" >&2
rm -f "$dir"/cpu-*.pprof "$dir"/heap-*.pprof
SWITCHBOARD_HTTP_ADDR=$addr \
	SWITCHBOARD_PPROF_ADDR=$pprof_addr \
	SWITCHBOARD_TTS_ENGINE=$TTS \
	SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true \
	SWITCHBOARD_SANDBOX_DELAY=0s \
	SWITCHBOARD_LOG_LEVEL=warn \
	"$server" serve 2>"$dir/server.log" &
server_pid=$!
bench_wait_ready bench-voice "$addr" "$dir/server.log"

bench_stack_pids "$pgport" "$redisport"

echo "bench-voice: nproc=$(nproc); CALLS=$CALLS C=$C TURN_C=$TURN_C TTS=$TTS" >&2
bin/sbbench -mode calls -url "http://$addr" -key "$key" \
	-db "$SWITCHBOARD_DATABASE_URL" -redis "$SWITCHBOARD_REDIS_URL" \
	-calls "$CALLS" -c "$C" -turn-c "$TURN_C" -tts "$TTS" -wait 180s \
	-server-pid "$server_pid" -pg-pid "$pg_pid" -redis-pid "$redis_pid" \
	-pprof "http://$pprof_addr" -pprof-dir "$dir" -pprof-seconds 3 \
	-build "$BENCH_BUILD" -out "$dir/last.json" "$@"
echo "bench-voice: JSON summary in .local/$name/last.json" >&2
for prof in "$dir"/cpu-*.pprof; do
	[ -s "$prof" ] || continue
	echo "bench-voice: top of $prof (go tool pprof -top $server $prof)" >&2
	go tool pprof -top -nodecount=25 "$server" "$prof" 2>/dev/null | sed -n '1,32p' >&2 || true
done
prof="$dir/heap-calls-waiting.pprof"
if [ -s "$prof" ]; then
	echo "bench-voice: live heap with every call waiting (go tool pprof -top -sample_index=inuse_space $server $prof)" >&2
	go tool pprof -top -nodecount=20 -sample_index=inuse_space "$server" "$prof" 2>/dev/null | sed -n '1,27p' >&2 || true
fi
