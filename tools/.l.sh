#!/usr/bin/env bash
# Builds the gateway and the load generator, starts a gateway with a
# principal whose limits are above the load (paper broker, busy-spinning
# broker thread), runs ordergate-load against it with the arguments given
# (default: a closed-loop run and a pipelined run), and stops the gateway.
set -euo pipefail
cd "$(dirname "$0")/.."



bin=build/release/tools
work=$(mktemp -d)
trap 'kill -TERM "${gateway_pid:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

token_output=$("$bin/ordergate" token new --principal load)
token=$(echo "$token_output" | sed -n '2p')
hash=$(echo "$token_output" | sed -n 's/^token_sha256 = "\(.*\)"$/\1/p')
sed -e "s/@TOKEN_SHA256@/$hash/" -e "s|@SOCKET@|$work/gateway.sock|" examples/load.toml.in > "$work/load.toml"

"$bin/ordergate" run --config "$work/load.toml" > "$work/ready" 2> "$work/gateway.log" &
gateway_pid=$!
for _ in $(seq 100); do
  grep -q "^ordergate ready" "$work/ready" 2>/dev/null && break
  kill -0 "$gateway_pid" 2>/dev/null || { cat "$work/gateway.log"; exit 1; }
  sleep 0.1
done
grep -q "^ordergate ready" "$work/ready" || { echo "gateway did not start"; exit 1; }

# The token reaches ordergate-load through the environment: not on a command
# line that `ps` shows.
export ORDERGATE_TOKEN="$token"
if [ $# -eq 0 ]; then
  "$bin/ordergate-load" --socket "$work/gateway.sock" --count 200000
  "$bin/ordergate-load" --socket "$work/gateway.sock" --count 400000 --window 64 --no-baseline
else
  "$bin/ordergate-load" --socket "$work/gateway.sock" "$@"
fi
