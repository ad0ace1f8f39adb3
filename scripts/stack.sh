#!/usr/bin/env bash
# stack.sh — a private PostgreSQL and Redis for Switchboard, started as plain
# processes (no systemd, no Docker needed) with their own data directory and
# ports, so they never collide with services already on the machine. The
# default ports sit below Linux's ephemeral range (32768–60999): a port in it
# can be briefly taken by an outgoing connection in TIME_WAIT, and then
# PostgreSQL or Redis cannot bind it.
#
#   scripts/stack.sh start NAME PGPORT REDISPORT [fsync]   # prints export lines
#   scripts/stack.sh stop NAME
#
# Data lives in .local/NAME. PostgreSQL and Redis are installed with apt on
# Debian/Ubuntu when missing; where a Docker engine runs and they cannot be
# installed, `docker compose` (docker-compose.yml) is used instead.
set -euo pipefail

cmd=${1:?usage: stack.sh start|stop NAME [PGPORT REDISPORT [fsync]]}
name=${2:?name}
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.local/$name"
# PostgreSQL runs as the postgres user when we are root; if that user cannot
# reach the checkout (say, under a 0700 home directory), keep the data in a
# per-checkout directory under /var/tmp instead.
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
	dir="/var/tmp/switchboard-$(printf '%s' "$root" | cksum | cut -d' ' -f1)/$name"
fi

pgbin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	command -v pg_ctl >/dev/null 2>&1 && dirname "$(command -v pg_ctl)"
}

install_deps() {
	if [ -n "$(pgbin)" ] && command -v redis-server >/dev/null 2>&1 && command -v espeak-ng >/dev/null 2>&1; then
		return
	fi
	if command -v apt-get >/dev/null 2>&1; then
		local sudo=""
		[ "$(id -u)" -ne 0 ] && sudo=sudo
		echo "stack: installing postgresql, redis-server, espeak-ng (the voice bots' offline TTS) and libopus-dev (Opus for browser calls; used from the next build) with apt" >&2
		$sudo apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql redis-server espeak-ng libopus-dev pkg-config >&2
	elif docker info >/dev/null 2>&1; then
		echo "stack: no apt; using docker compose" >&2
		return 1
	else
		echo "stack: need PostgreSQL and Redis: install them, or run a Docker engine" >&2
		exit 1
	fi
}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local pgport=${3:-25432} redisport=${4:-26379} fsync=${5:-on}
	if ! install_deps; then
		PGPORT=$pgport REDISPORT=$redisport docker compose -f "$root/docker-compose.yml" -p "sb-$name" up -d --wait >&2
		emit "$pgport" "$redisport"
		return
	fi
	local bin
	bin=$(pgbin)
	mkdir -p "$dir"
	if [ ! -s "$dir/pg/PG_VERSION" ]; then
		install -d -m 700 "$dir/pg"
		[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pg" && chmod 755 "$(dirname "$dir")" "$dir"
		as_pg "$bin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log"
	fi
	if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$pgport"; then
		local try
		for try in 1 2 3 4 5; do
			as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w start \
				-o "-c listen_addresses=127.0.0.1 -p $pgport -k $dir/pg -c fsync=$fsync -c max_connections=200 -c shared_buffers=256MB" >&2 && break
			[ "$try" = 5 ] && { tail -5 "$dir/pg/server.log" >&2; exit 1; }
			echo "stack: PostgreSQL did not start (port $pgport busy?); retrying" >&2
			sleep 2
		done
	fi
	if ! redis-cli -p "$redisport" ping >/dev/null 2>&1; then
		redis-server --bind 127.0.0.1 --port "$redisport" --daemonize yes --save '' --appendonly no \
			--dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
		for _ in $(seq 50); do redis-cli -p "$redisport" ping >/dev/null 2>&1 && break; sleep 0.1; done
	fi
	"$bin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='switchboard'" | grep -q 1 ||
		"$bin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qc "CREATE DATABASE switchboard" >&2
	emit "$pgport" "$redisport"
}

emit() {
	echo "export SWITCHBOARD_DATABASE_URL=postgres://postgres@127.0.0.1:$1/switchboard?sslmode=disable"
	echo "export SWITCHBOARD_REDIS_URL=redis://127.0.0.1:$2/0"
}

stop() {
	local bin
	bin=$(pgbin || true)
	if [ -f "$dir/redis.pid" ]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
		rm -f "$dir/redis.pid"
	fi
	if [ -n "$bin" ] && [ -f "$dir/pg/postmaster.pid" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >&2 || true
	fi
	if [ -f "$root/docker-compose.yml" ] && docker info >/dev/null 2>&1; then
		docker compose -f "$root/docker-compose.yml" -p "sb-$name" down >&2 || true
	fi
}

case $cmd in
start) start "$@" ;;
stop) stop ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
