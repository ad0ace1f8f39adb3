#!/usr/bin/env bash
# dev-master-key.sh — print the master key `make run` seals provider
# credentials with, generating it once into .local/dev/master.key (readable
# by this user only). Production sets SWITCHBOARD_MASTER_KEY itself; see the
# README's "Connecting providers".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file="$root/.local/dev/master.key"
mkdir -p "$(dirname "$file")"
if [ ! -s "$file" ]; then
	umask 077
	"$root/bin/switchboard" keys generate >"$file"
fi
cat "$file"
