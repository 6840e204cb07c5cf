#!/usr/bin/env bash
# Benchmarks the product against its baselines in one run, on loopback only.
# Starts a real redis-server, the two baselines (tests/Baselines) and the product in embedded and Redis modes, runs
# the same closed-loop load against each in alternation (ROUNDS times), then prints medians and product/baseline
# ratios. Usage: tests/bench.sh [results.jsonl]   env: ROUNDS=3 DURATION=10s CLIENTS=64 SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-64}
RESULTS=${1:-bench-results.jsonl}
BIN=bin/Release/net10.0
REDIS_PORT=${REDIS_PORT:-6391}
declare -A PORT=([baseline-memory]=8191 [baseline-redis]=8192 [product-embedded]=8193 [product-redis]=8194)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

[[ -n "${SKIP_BUILD:-}" ]] || dotnet build Orleans.sln -c Release -v quiet -nologo
command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install -y redis-server" >&2; exit 2; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/tmp/bench-redis.log 2>&1 & PIDS+=($!)
SERVICE="bench-$(date +%s)"
dotnet tests/Baselines/$BIN/Baselines.dll --mode memory --urls "http://127.0.0.1:${PORT[baseline-memory]}" >/tmp/bench-baseline-memory.log 2>&1 & PIDS+=($!)
sleep 1
dotnet tests/Baselines/$BIN/Baselines.dll --mode redis --redis "127.0.0.1:$REDIS_PORT" --urls "http://127.0.0.1:${PORT[baseline-redis]}" >/tmp/bench-baseline-redis.log 2>&1 & PIDS+=($!)
Orleans__SiloPort=11191 Orleans__GatewayPort=30091 dotnet src/Api/$BIN/Api.dll --urls "http://127.0.0.1:${PORT[product-embedded]}" >/tmp/bench-product-embedded.log 2>&1 & PIDS+=($!)
ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT" Orleans__ServiceId="$SERVICE" Orleans__SiloPort=11192 Orleans__GatewayPort=30092 \
  dotnet src/Api/$BIN/Api.dll --urls "http://127.0.0.1:${PORT[product-redis]}" >/tmp/bench-product-redis.log 2>&1 & PIDS+=($!)

for label in "${!PORT[@]}"; do
  for _ in $(seq 1 150); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$label]}/api/jobs/none" || true)
    [[ "$code" == "404" ]] && break; sleep 0.2; done
done

LOADGEN="dotnet tests/LoadGen/$BIN/LoadGen.dll"
run() { # label scenario keys duration
  $LOADGEN --target "http://127.0.0.1:${PORT[$1]}" --label "$1" --scenario "$2" --keys "$3" --clients "$CLIENTS" --duration "$4" --warmup 2s 2>/dev/null | tail -n 1
}

echo "warming up every target (results discarded)..." >&2
for label in baseline-memory baseline-redis product-embedded product-redis; do run "$label" jobs-progress 1000 5s >/dev/null; done

: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for spec in "jobs-progress 1000" "jobs-progress 1" "jobs-heartbeat 1000"; do
    set -- $spec
    for label in baseline-memory product-embedded baseline-redis product-redis; do
      echo "round $round: $1 keys=$2 on $label" >&2
      run "$label" "$1" "$2" "$DURATION" | tee -a "$RESULTS" >/dev/null
    done
  done
done
# Product-only scenarios (the baselines do not serve lectures): absolute figures, invariants checked.
for label in product-embedded product-redis; do
  run "$label" lectures-start 100 "$DURATION" >> "$RESULTS"
  run "$label" mixed 1000 "$DURATION" >> "$RESULTS"
done

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); clients $CLIENTS, $DURATION per run, $ROUNDS rounds"
$LOADGEN --report "$RESULTS"
