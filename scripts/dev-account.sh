#!/usr/bin/env bash
# dev-account.sh — create (once) the dev account for `make run` and print its
# key with copy-paste curl lines. The key is kept in .local/dev/account.json,
# which only this machine's user can read.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file="$root/.local/dev/account.json"
mkdir -p "$(dirname "$file")"
if [ ! -s "$file" ]; then
	umask 077
	"$root/bin/switchboard" accounts create --name dev --json >"$file"
fi
key=$(sed -E 's/.*"api_key":"([^"]+)".*/\1/' "$file")
port=${SWITCHBOARD_HTTP_ADDR:-:8080}
port=${port##*:}
cat <<MSG

  Switchboard dev account ready.
  API key: $key

  Try it:
    export SB_KEY=$key
    curl -s -X POST http://localhost:$port/v1/messages \\
      -H "Authorization: Bearer \$SB_KEY" -H 'Content-Type: application/json' \\
      -d '{"channel":"sms","from":"+15005550000","to":"+15551234567","text":"Hello from Switchboard"}'
    curl -s http://localhost:$port/v1/messages -H "Authorization: Bearer \$SB_KEY"
    curl -s -X POST http://localhost:$port/v1/sandbox/inbound \\
      -H "Authorization: Bearer \$SB_KEY" -H 'Content-Type: application/json' \\
      -d '{"channel":"sms","from":"+15551234567","to":"+15005550000","text":"STOP"}'

  The customer behind +15551234567, their open conversation, and the opt-out STOP made:
    curl -s 'http://localhost:$port/v1/customers?identity=sms:%2B15551234567' -H "Authorization: Bearer \$SB_KEY"
    curl -s 'http://localhost:$port/v1/conversations?status=open' -H "Authorization: Bearer \$SB_KEY"
    curl -s http://localhost:$port/v1/opt-outs -H "Authorization: Bearer \$SB_KEY"

MSG
