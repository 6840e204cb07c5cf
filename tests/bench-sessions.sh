#!/usr/bin/env bash
# The cost of the cluster-wide rate limiter on the message route, in one run: two embedded API silos, identical but
# for RateLimits:Global:Enabled (a bucket wide enough never to refuse vs no global limiter), loaded in alternation
# with wrk (POST /api/users/{random of USERS}/messages?wait=false, built-in responder with no latency).
# Prints rps per round and the ratio of medians (limited / unlimited). Then one sessions-chat LoadGen run on the
# limited silo, invariant checked. Usage: tests/bench-sessions.sh   env: ROUNDS=3 DURATION=10s USERS=10000 SKIP_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10s}; USERS=${USERS:-10000}
BIN=bin/Release/net10.0
declare -A PORT=([global-on]=8291 [global-off]=8292)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build Orleans.sln -c Release -v quiet -nologo
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 2; }

common=(Sessions__BuiltinLatency=00:00:00 RateLimits__User__TokenLimit=100000000 RateLimits__User__TokensPerPeriod=100000000)
env "${common[@]}" RateLimits__Global__TokenLimit=100000000 RateLimits__Global__TokensPerPeriod=100000000 \
  Orleans__SiloPort=11291 Orleans__GatewayPort=30291 dotnet src/Api/$BIN/Api.dll --urls "http://127.0.0.1:${PORT[global-on]}" >/tmp/bench-sessions-on.log 2>&1 & PIDS+=($!)
env "${common[@]}" RateLimits__Global__Enabled=false \
  Orleans__SiloPort=11292 Orleans__GatewayPort=30292 dotnet src/Api/$BIN/Api.dll --urls "http://127.0.0.1:${PORT[global-off]}" >/tmp/bench-sessions-off.log 2>&1 & PIDS+=($!)
for label in "${!PORT[@]}"; do
  for _ in $(seq 1 150); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[$label]}/health/ready" || true)" == "200" ]] && break; sleep 0.2; done
done

load() { # label duration prefix
  USERS=$USERS PREFIX=$3 wrk -t2 -c64 -d"$2" -s tests/bench/sessions-messages.lua "http://127.0.0.1:${PORT[$1]}" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non2xx " $NF > "/dev/stderr"}'
}
echo "warming up (activates the users' grains on both silos; discarded)" >&2
for label in global-on global-off; do load "$label" 10s w >/dev/null; done
declare -A RPS=([global-on]="" [global-off]="")
for round in $(seq 1 "$ROUNDS"); do
  for label in global-on global-off; do
    rps=$(load "$label" "$DURATION" w)
    echo "round $round  $label  $rps rps" >&2
    RPS[$label]+="$rps "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
on=$(echo "${RPS[global-on]}" | median); off=$(echo "${RPS[global-off]}" | median)
leases=$(curl -s "http://127.0.0.1:${PORT[global-on]}/metrics" | awk '/^ratelimit_global_leases/ {s+=$NF} END {print s+0}')
accepted=$(curl -s "http://127.0.0.1:${PORT[global-on]}/metrics" | awk '/^sessions_requests/ {s+=$NF} END {print s+0}')
echo "global limiter on: $leases calls to the global bucket grain for $accepted accepted messages"
echo "median rps: global limiter on $on, off $off, ratio $(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a/b}')"
dotnet tests/LoadGen/$BIN/LoadGen.dll --target "http://127.0.0.1:${PORT[global-on]}" --scenario sessions-chat --keys 2000 --clients 64 --duration 10s --label global-on 2>/dev/null | grep -E "rps|statuses|invariant"
