#!/usr/bin/env bash
# What deltas cost: the API silo (embedded mode, built-in responder, 1 s latency) with Agents:Streaming on and off,
# alternated ROUNDS times; each round W SSE watchers of one room with 4 agents, 10 messages (40 replies). Prints the
# server's CPU per reply (/proc utime+stime over the posting phase) and whether every watcher got every delta
# (tests/bench/deltas.mjs). Needs the Release build and Node. WATCHERS (default "1 500"), ROUNDS (default 3).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dll="$root/src/Api/bin/Release/net10.0/Api.dll"
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
for watchers in ${WATCHERS:-1 500}; do
  for round in $(seq 1 "${ROUNDS:-3}"); do
    for streaming in true false; do
      port=$(free_port)
      Agents__Streaming=$streaming Agents__BuiltinLatency=00:00:01 Orleans__SiloPort=$(free_port) Orleans__GatewayPort=$(free_port) \
        Api__Edge__EventStreamsPerKey=100000 dotnet "$dll" --urls "http://127.0.0.1:$port" >/dev/null 2>&1 &
      pid=$!
      until curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; do sleep 0.3; done
      printf 'streaming=%s round=%s ' "$streaming" "$round"
      node "$root/tests/bench/deltas.mjs" --api "http://127.0.0.1:$port" --pid "$pid" --watchers "$watchers" --messages 10 --agents 4 --streaming "$streaming"
      kill "$pid"; wait "$pid" 2>/dev/null || true
    done
  done
done
