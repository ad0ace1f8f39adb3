# bench-lib.sh — what the benchmark scripts (bench.sh, bench-voice.sh,
# bench-rtc.sh) share. Sourced, not run: the functions read the caller's
# $server (the binary), $server_pid and $psql.

# bench_build builds the server as `make build` does (with -tags opus where
# libopus is installed) unless SWITCHBOARD_BIN names another, and sbbench.
bench_build() {
	[ "$server" != bin/switchboard ] || [ -x bin/switchboard ] || make -s build
	go build -o bin/sbbench ./cmd/sbbench
}

# bench_stop_server stops the server: TERM, then KILL after 10 s.
bench_stop_server() {
	if [ -z "${server_pid:-}" ] || ! kill -0 "$server_pid" 2>/dev/null; then
		return 0
	fi
	kill -TERM "$server_pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null || true
}

# bench_fresh_db TAG PGPORT REDISPORT finds psql (sets $psql), recreates the
# switchboard database and flushes Redis.
bench_fresh_db() {
	psql=""
	for p in /usr/lib/postgresql/*/bin/psql; do [ -x "$p" ] && psql=$p; done
	[ -n "$psql" ] || psql=$(command -v psql)
	echo "$1: recreating database switchboard and flushing Redis" >&2
	"$psql" -h 127.0.0.1 -p "$2" -U postgres -d postgres -qX \
		-c "DROP DATABASE IF EXISTS switchboard WITH (FORCE)" -c "CREATE DATABASE switchboard" >&2
	redis-cli -h 127.0.0.1 -p "$3" flushall >/dev/null
}

# bench_wait_ready TAG ADDR LOG waits up to 15 s for the server's /readyz;
# if it exits or never gets ready, it shows LOG and fails.
bench_wait_ready() {
	for i in $(seq 150); do
		curl -fsS "http://$2/readyz" >/dev/null 2>&1 && return 0
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "$1: server exited; log follows" >&2
			cat "$3" >&2
			exit 1
		fi
		[ "$i" = 150 ] && { echo "$1: server not ready after 15 s" >&2; exit 1; }
		sleep 0.1
	done
}

# bench_stack_pids PGPORT REDISPORT sets $pg_pid and $redis_pid, asking the
# servers themselves: the stack's data may live outside .local.
bench_stack_pids() {
	local pgdata
	pgdata=$("$psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -qXAt -c "SHOW data_directory" 2>/dev/null || true)
	pg_pid=$(head -1 "$pgdata/postmaster.pid" 2>/dev/null || echo 0)
	redis_pid=$(redis-cli -h 127.0.0.1 -p "$2" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
	redis_pid=${redis_pid:-0}
}
