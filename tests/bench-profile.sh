#!/usr/bin/env bash
# Profiles one target of tests/bench.sh under the bench's own load (tests/bench/jobs-*.lua, wrk), run as the bench
# runs it (the product with keys, the rate limiter, /metrics and the dashboard on, logging at Warning):
#   1. allocation per request: the runtime's dotnet.gc.heap.total_allocated (dotnet-counters) over one wrk run;
#   2. CPU by symbol: perf record -g over one wrk run (perf maps on, so JIT-compiled frames resolve), perf report;
#   3. allocation by type and where from: the runtime's allocation samples (dotnet-trace, gc-verbose), read by
#      tests/LoadGen --alloc-report;
#   idle (only when asked for): the target's CPU while it serves nothing for DURATION right after a setup, that is
#      while the set-up jobs wait as processing jobs and their stall reminders tick.
# Usage: tests/bench-profile.sh   env: TARGET=product-embedded|product-redis|baseline-orleans|baseline-memory
#   SCENARIO=1000|1|poll DURATION=10s WARMUP=20s SKIP_BUILD=1 PARTS="alloc cpu types" OUT=<dir> API_DLL=<another Api.dll>
#   EXTRA_ENV="NAME=value ..." (added to the target's environment: a switch to compare, such as DOTNET_GCgen0size=...)
# Needs wrk, perf, redis-server (product-redis), and dotnet-counters and dotnet-trace (dotnet tool install -g).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$HOME/.dotnet/tools"
TARGET=${TARGET:-product-embedded}
SCENARIO=${SCENARIO:-1000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-20s}
PARTS=${PARTS:-alloc cpu types}
OUT=${OUT:-$(mktemp -d /tmp/bench-profile.XXXXXX)}; mkdir -p "$OUT"
BIN=bin/Release/net10.0
API_DLL=${API_DLL:-src/Api/$BIN/Api.dll}
PORT=${PORT:-8291}
REDIS_PORT=${REDIS_PORT:-6392}
ADMIN_KEY=bench-admin-key-0000000000000001
WORKER_KEY=bench-worker-key-000000000000001
read -ra EXTRA <<<"${EXTRA_ENV:-}"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
for tool in wrk curl dotnet-counters dotnet-trace perf; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (see the usage above)" >&2; exit 2; }
done
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build Orleans.sln -c Release -v quiet -nologo

PRODUCT_ENV=(Auth__Keys__0__Key=$ADMIN_KEY Auth__Keys__0__Role=admin Auth__Keys__1__Key=$WORKER_KEY Auth__Keys__1__Role=worker
  Auth__Keys__1__Subject=w Logging__LogLevel__Default=Warning Logging__LogLevel__Microsoft.Hosting.Lifetime=Warning)
# Perf maps name JIT-compiled frames for perf; W^X off keeps their addresses stable.
PROFILE_ENV=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 "${EXTRA[@]}")
URL="http://127.0.0.1:$PORT"
if [[ $TARGET == product-redis ]]; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 & PIDS+=($!)
fi
# exec: $! is the target's own process (its CPU, perf and counters), and nothing else holds the caller's files.
case "$TARGET" in
  product-embedded) exec env "${PRODUCT_ENV[@]}" "${PROFILE_ENV[@]}" Orleans__SiloPort=11291 Orleans__GatewayPort=30291 dotnet "$API_DLL" --urls "$URL" ;;
  product-redis) exec env "${PRODUCT_ENV[@]}" "${PROFILE_ENV[@]}" ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT" Orleans__ServiceId="profile-$(date +%s)" \
      Orleans__SiloPort=11292 Orleans__GatewayPort=30292 dotnet "$API_DLL" --urls "$URL" ;;
  baseline-orleans) exec env "${PROFILE_ENV[@]}" dotnet tests/Baselines/$BIN/Baselines.dll --mode orleans --silo-port 11293 --gateway-port 30293 --urls "$URL" ;;
  baseline-memory) exec env "${PROFILE_ENV[@]}" dotnet tests/Baselines/$BIN/Baselines.dll --mode memory --urls "$URL" ;;
  *) echo "unknown TARGET $TARGET" >&2; exit 2 ;;
esac >"$OUT/target.log" 2>&1 &
PIDS+=($!); SERVER=$!
for _ in $(seq 1 150); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $WORKER_KEY" "$URL/api/jobs/none" || true)" == "404" ]] && break
  sleep 0.2
done

JOBS=$SCENARIO; SCRIPT=tests/bench/jobs-progress.lua
if [[ $SCENARIO == poll ]]; then JOBS=1000; SCRIPT=tests/bench/jobs-poll.lua; fi
RUN=0
# Fresh started jobs for the next run (outside every measured window).
setup() {
  RUN=$((RUN + 1)); PREFIX="p${RUN}x"
  JOBS=$JOBS PREFIX=$PREFIX ADMIN_KEY=$ADMIN_KEY KEY=$WORKER_KEY wrk -t1 -c1 -d"$(( JOBS / 300 + 3 ))s" -s tests/bench/jobs-setup.lua "$URL" >/dev/null
  [[ $(curl -s -H "Authorization: Bearer $WORKER_KEY" "$URL/api/jobs/$PREFIX$JOBS") == *'"processing"'* ]] || { echo "setup failed" >&2; exit 1; }
}
# One wrk run of $1 on the jobs of the last setup; prints the number of requests it made.
load() {
  local out
  out=$(JOBS=$JOBS PREFIX=$PREFIX KEY=$WORKER_KEY wrk -t2 -c64 -d"$1" --latency -s "$SCRIPT" "$URL" 2>&1)
  echo "$out" >>"$OUT/wrk.txt"
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then echo "run answered errors: $out" >&2; exit 1; fi
  awk '/requests in/ {print $1}' <<<"$out"
}

echo "warming up $TARGET for $WARMUP (discarded)..." >&2
setup; load "$WARMUP" >/dev/null
echo "# $TARGET, scenario $SCENARIO, $DURATION per run, $(date -u +%FT%TZ), $(git rev-parse --short HEAD)${EXTRA_ENV:+, $EXTRA_ENV}" | tee "$OUT/summary.txt"

if [[ " $PARTS " == *" alloc "* ]]; then
  setup
  # The counter is a rate per refresh interval: its sum over a window that holds the whole run is what the run allocated.
  dotnet-counters collect -p "$SERVER" --counters System.Runtime --refresh-interval 1 --format csv -o "$OUT/counters.csv" \
    --duration "00:00:$(printf %02d $(( ${DURATION%s} + 4 )))" </dev/null >/dev/null 2>&1 & COUNTERS=$!
  sleep 2
  t0=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  n=$(load "$DURATION")
  t1=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  wait "$COUNTERS"
  awk -F, -v n="$n" -v t=$((t1 - t0)) -v k="$(getconf CLK_TCK)" '
    /total_allocated/ { sum += $NF }
    END { printf "allocation: %.2f KB per request (%d requests; %.1f MB allocated); server CPU %.1f us per request\n",
      sum / n / 1024, n, sum / 1048576, t * 1e6 / k / n }' "$OUT/counters.csv" | tee -a "$OUT/summary.txt"
fi

if [[ " $PARTS " == *" cpu "* ]]; then
  setup; ( load "$DURATION" >/dev/null ) & LOAD=$!
  sleep 1
  perf record -F 999 -g -p "$SERVER" -o "$OUT/perf.data" -- sleep "$(( ${DURATION%s} - 2 ))" >/dev/null 2>&1
  wait "$LOAD"
  { echo "CPU by symbol (self, share of samples):"
    perf report -i "$OUT/perf.data" -g none --no-children --sort dso,symbol --stdio 2>/dev/null | awk '/^ +[0-9]/ && n++ < 40'
    echo "CPU by assembly (JIT-compiled frames), the kernel and native code:"
    perf report -i "$OUT/perf.data" -g none --no-children --sort symbol --stdio 2>/dev/null | perl -n tests/bench/perf-by-assembly.pl
  } | tee "$OUT/cpu.txt" | tee -a "$OUT/summary.txt" >/dev/null
  echo "cpu: $OUT/cpu.txt" >&2
fi

if [[ " $PARTS " == *" types "* ]]; then
  setup; ( load "$DURATION" >/dev/null ) & LOAD=$!
  sleep 1
  dotnet-trace collect -p "$SERVER" --profile gc-verbose --duration "00:00:$(printf %02d $(( ${DURATION%s} - 2 )))" -o "$OUT/alloc.nettrace" >/dev/null 2>&1
  wait "$LOAD"
  dotnet tests/LoadGen/$BIN/LoadGen.dll --alloc-report "$OUT/alloc.nettrace" "${TOP:-30}" | tee "$OUT/types.txt" | tee -a "$OUT/summary.txt" >/dev/null
  echo "types: $OUT/types.txt" >&2
fi
if [[ " $PARTS " == *" idle "* ]]; then
  setup
  t0=$(awk '{print $14 + $15}' "/proc/$SERVER/stat"); sleep "${DURATION%s}"; t1=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  awk -v t=$((t1 - t0)) -v k="$(getconf CLK_TCK)" -v d="${DURATION%s}" -v j="$JOBS" \
    'BEGIN { printf "idle: %.1f %% of a core over %d s, right after %d jobs were started (their stall reminders tick)\n", 100 * t / k / d, d, j }' |
    tee -a "$OUT/summary.txt"
fi
echo "summary: $OUT/summary.txt" >&2
