#!/usr/bin/env bash
# Benchmarks the product against its baselines in one run, on loopback only, with wrk (a C load generator that
# leaves the servers their CPU). Starts a real redis-server, the baselines of tests/Baselines (memory: the HTTP floor;
# orleans: the same rules in one in-memory grain per job, the floor of a grain call; redis: one atomic Lua script per
# update) and the product in embedded and Redis modes. For every round, scenario and
# target in alternation: fresh started jobs (tests/bench/jobs-setup.lua), then for DURATION progress reports
# (tests/bench/jobs-progress.lua) over 1,000 jobs or on 1 hot job, or the poll mix over 1,000 jobs: nine
# GET /api/jobs/{id} per progress report (tests/bench/jobs-poll.lua). The product runs as in production: API keys
# configured (setup with an admin key, the load with a worker key), the edge rate limiter at its default, /metrics and
# the dashboard on, logging at Warning; the baselines stay bare (they are the floors). A run with any non-2xx answer or
# socket error is a failed run. Prints every run, the medians and the ratios against the targets of issue 23; exits 1
# when a run failed (never on a throughput figure).
# Usage: tests/bench.sh   env: ROUNDS=3 DURATION=8s CONNECTIONS=64 THREADS=2 SKIP_BUILD=1 SMOKE=1 (1 round of 2 s)
#        OTLP=1: both products export traces, metrics and logs over OTLP/HTTP to a local sink (tests/bench/otlp-sink.py)
#   BEFORE=<another build's Api.dll>: also runs that build, embedded and in Redis mode (targets before-embedded,
#   before-redis), in the same alternation: a change's effect within one run. BEFORE_ENV="NAME=value ...": added to
#   the before targets' environment (BEFORE may be this build: a runtime switch's effect within one run). TARGETS="..." SCENARIOS="1000 1 poll": a subset.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${SMOKE:-}" ]]; then ROUNDS=${ROUNDS:-1}; DURATION=${DURATION:-2s}; WARMUP=${WARMUP:-1s}; fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-5s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
BIN=bin/Release/net10.0
LOGS=${LOGS:-$(mktemp -d /tmp/bench.XXXXXX)}; mkdir -p "$LOGS"
REDIS_PORT=${REDIS_PORT:-6391}
ALL_TARGETS="baseline-memory baseline-orleans product-embedded baseline-redis product-redis${BEFORE:+ before-embedded before-redis}"
read -ra TARGETS <<<"${TARGETS:-$ALL_TARGETS}"
declare -A PORT=([baseline-memory]=8191 [baseline-orleans]=8195 [product-embedded]=8193 [baseline-redis]=8192 [product-redis]=8194
  [before-embedded]=8196 [before-redis]=8197)
declare -A SHORT=([baseline-memory]=bm [baseline-orleans]=bo [product-embedded]=pe [baseline-redis]=br [product-redis]=pr
  [before-embedded]=be [before-redis]=bb)
# Progress reports spread over 1,000 jobs; all on one hot job; the poll mix over 1,000 jobs.
read -ra SCENARIOS <<<"${SCENARIOS:-1000 1 poll}"
# The product's keys (the baselines ignore them): setup creates with the admin key; the load is the worker "w".
ADMIN_KEY=bench-admin-key-0000000000000001
WORKER_KEY=bench-worker-key-000000000000001
PRODUCT_ENV=(Auth__Keys__0__Key=$ADMIN_KEY Auth__Keys__0__Role=admin Auth__Keys__1__Key=$WORKER_KEY Auth__Keys__1__Role=worker
  Auth__Keys__1__Subject=w Logging__LogLevel__Default=Warning Logging__LogLevel__Microsoft.Hosting.Lifetime=Warning)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

for tool in wrk redis-server curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install -y wrk redis-server curl" >&2; exit 2; }
done
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build Orleans.sln -c Release -v quiet -nologo

declare -A PID
if [[ -n "${OTLP:-}" ]]; then
  python3 tests/bench/otlp-sink.py "${OTLP_PORT:-4398}" >"$LOGS/otlp-sink.log" 2>&1 & PIDS+=($!)
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${OTLP_PORT:-4398}" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
fi
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$LOGS/redis.log" 2>&1 & PIDS+=($!); PID[redis]=$!
dotnet tests/Baselines/$BIN/Baselines.dll --mode memory --urls "http://127.0.0.1:${PORT[baseline-memory]}" >"$LOGS/baseline-memory.log" 2>&1 &
PIDS+=($!); PID[baseline-memory]=$!
dotnet tests/Baselines/$BIN/Baselines.dll --mode orleans --silo-port 11193 --gateway-port 30093 \
  --urls "http://127.0.0.1:${PORT[baseline-orleans]}" >"$LOGS/baseline-orleans.log" 2>&1 & PIDS+=($!); PID[baseline-orleans]=$!
dotnet tests/Baselines/$BIN/Baselines.dll --mode redis --redis "127.0.0.1:$REDIS_PORT" \
  --urls "http://127.0.0.1:${PORT[baseline-redis]}" >"$LOGS/baseline-redis.log" 2>&1 & PIDS+=($!); PID[baseline-redis]=$!
env "${PRODUCT_ENV[@]}" Orleans__SiloPort=11191 Orleans__GatewayPort=30091 \
  dotnet src/Api/$BIN/Api.dll --urls "http://127.0.0.1:${PORT[product-embedded]}" >"$LOGS/product-embedded.log" 2>&1 & PIDS+=($!); PID[product-embedded]=$!
env "${PRODUCT_ENV[@]}" ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT" Orleans__ServiceId="bench-$(date +%s)" Orleans__SiloPort=11192 Orleans__GatewayPort=30092 \
  dotnet src/Api/$BIN/Api.dll --urls "http://127.0.0.1:${PORT[product-redis]}" >"$LOGS/product-redis.log" 2>&1 & PIDS+=($!); PID[product-redis]=$!
if [[ -n "${BEFORE:-}" ]]; then
  read -ra BEFORE_EXTRA <<<"${BEFORE_ENV:-}"
  env "${PRODUCT_ENV[@]}" "${BEFORE_EXTRA[@]}" Orleans__SiloPort=11196 Orleans__GatewayPort=30096 \
    dotnet "$BEFORE" --urls "http://127.0.0.1:${PORT[before-embedded]}" >"$LOGS/before-embedded.log" 2>&1 & PIDS+=($!); PID[before-embedded]=$!
  env "${PRODUCT_ENV[@]}" "${BEFORE_EXTRA[@]}" ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT" Orleans__ServiceId="bench-before-$(date +%s)" Orleans__SiloPort=11197 \
    Orleans__GatewayPort=30097 dotnet "$BEFORE" --urls "http://127.0.0.1:${PORT[before-redis]}" >"$LOGS/before-redis.log" 2>&1 & PIDS+=($!); PID[before-redis]=$!
fi

for label in "${TARGETS[@]}"; do
  for _ in $(seq 1 150); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $WORKER_KEY" "http://127.0.0.1:${PORT[$label]}/api/jobs/none" || true)" == "404" ]] && break
    sleep 0.2
  done
done

# wrk's latency figure in milliseconds ("812.00us", "2.30ms", "1.02s").
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

# Creates and starts JOBS fresh jobs named PREFIX1..; fails unless every answer was 2xx and the last job is processing.
fresh() { # label jobs prefix
  local seconds=$(( $2 / 300 + 2 )) out
  for _ in 1 2 3 4; do
    out=$(JOBS=$2 PREFIX=$3 ADMIN_KEY=$ADMIN_KEY KEY=$WORKER_KEY wrk -t1 -c1 -d"${seconds}s" -s tests/bench/jobs-setup.lua "http://127.0.0.1:${PORT[$1]}" 2>&1)
    if grep -qE "Non-2xx|Socket errors" <<<"$out"; then break; fi
    if curl -s -H "Authorization: Bearer $WORKER_KEY" "http://127.0.0.1:${PORT[$1]}/api/jobs/$3$2" | grep -q '"processing"'; then return 0; fi
    seconds=$(( seconds * 2 ))   # not done in time (a slow machine): again, longer; what exists is answered 200
  done
  echo "setup of $2 jobs on $1 failed:" >&2; echo "$out" >&2; return 1
}

# CPU time (user + system, in clock ticks) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One measured run; prints "label scenario round rps p99ms failures server-us/request redis-us/request".
measure() { # label scenario round duration
  local jobs=$2 script=tests/bench/jobs-progress.lua
  if [[ $2 == poll ]]; then jobs=1000; script=tests/bench/jobs-poll.lua; fi
  local prefix="${SHORT[$1]}$3x$2n"
  fresh "$1" "$jobs" "$prefix" || { echo "$1 $2 $3 0 0 setup-failed 0 0"; return; }
  local s0 r0 s1 r1; s0=$(ticks "${PID[$1]}"); r0=$(ticks "${PID[redis]}")
  local out; out=$(JOBS=$jobs PREFIX=$prefix KEY=$WORKER_KEY wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --latency -s "$script" \
    "http://127.0.0.1:${PORT[$1]}" 2>&1)
  s1=$(ticks "${PID[$1]}"); r1=$(ticks "${PID[redis]}")
  echo "$out" >>"$LOGS/wrk-$1.txt"
  local rps p99 bad n
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  bad=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  local tick; tick=$(getconf CLK_TCK)
  echo "$1 $2 $3 ${rps:-0} $p99 $bad $(awk -v t=$((s1 - s0)) -v r=$((r1 - r0)) -v n="${n:-1}" -v k="$tick" 'BEGIN {printf "%.1f %.1f", t * 1e6 / k / n, r * 1e6 / k / n}')"
}

echo "warming up every target (discarded)..." >&2
for label in "${TARGETS[@]}"; do for jobs in "${SCENARIOS[@]}"; do measure "$label" "$jobs" 0 "$WARMUP" >/dev/null; done; done

RESULTS="$LOGS/results.txt"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for jobs in "${SCENARIOS[@]}"; do
    for label in "${TARGETS[@]}"; do
      line=$(measure "$label" "$jobs" "$round" "$DURATION")
      echo "$line" | tee -a "$RESULTS" | awk '{printf "round %s  %-16s %4s  %9.0f rps  p99 %6.2f ms  server %5.1f us/req  redis %4.1f us/req  %s\n", $3, $1, $2, $4, $5, $7, $8, ($6 == "0" ? "ok" : "FAILED: " $6 " bad answers")}' >&2
    done
  done
done

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); wrk -t$THREADS -c$CONNECTIONS, $DURATION per run, $ROUNDS rounds, medians; logs in $LOGS"
awk -v targets="$ALL_TARGETS" '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n == 0 ? 0 : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
  }
  $6 != "0" { failed[$1 " " $2]++; anyfailed = 1; next }
  { rps[$1 " " $2] = rps[$1 " " $2] " " $4; p99[$1 " " $2] = p99[$1 " " $2] " " $5; cpu[$1 " " $2] = cpu[$1 " " $2] " " $7; rcpu[$1 " " $2] = rcpu[$1 " " $2] " " $8 }
  END {
    nt = split(targets, t, " ")
    printf "%-18s %-54s %-54s %-54s\n", "target", "1,000 jobs", "1 hot job", "poll mix (9 GET : 1 progress, 1,000 jobs)"
    split("1000 1 poll", sc, " ")
    for (i = 1; i <= nt; i++) {
      line = sprintf("%-18s", t[i])
      for (s = 1; s <= 3; s++) {
        k = t[i] " " sc[s]; R[k] = median(rps[k]); P[k] = median(p99[k]); C[k] = median(cpu[k])
        line = line sprintf(" %7.0f rps p99 %5.2f ms cpu %5.1f+%4.1f us/req%s", R[k], P[k], C[k], median(rcpu[k]), (failed[k] ? "*" : " "))
      }
      print line
    }
    print "(cpu: the target process + redis-server, per request)"
    print ""
    split("1,000 jobs|1 hot job |poll mix  ", name, "|")
    split("0.7 1.2 1.5", redisTarget, " ")
    for (s = 1; s <= 3; s++) {
      j = sc[s]
      printf "%s  Redis mode: product-redis / baseline-redis %.2fx (target >= %.1fx), p99 %.2fx (target <= 1.5x)\n", name[s],
        R["baseline-redis " j] ? R["product-redis " j] / R["baseline-redis " j] : 0, redisTarget[s], P["baseline-redis " j] ? P["product-redis " j] / P["baseline-redis " j] : 0
      printf "%s  embedded:   product-embedded / baseline-orleans %.2fx (target >= 0.7x), p99 %.2fx; own server CPU above the floor %.1f us/req (target <= 20)\n", name[s],
        R["baseline-orleans " j] ? R["product-embedded " j] / R["baseline-orleans " j] : 0, P["baseline-orleans " j] ? P["product-embedded " j] / P["baseline-orleans " j] : 0,
        C["product-embedded " j] - C["baseline-orleans " j]
      printf "%s  grain floor: baseline-orleans / baseline-memory %.2fx, p99 %.2fx; product-embedded / baseline-memory %.2fx\n", name[s],
        R["baseline-memory " j] ? R["baseline-orleans " j] / R["baseline-memory " j] : 0, P["baseline-memory " j] ? P["baseline-orleans " j] / P["baseline-memory " j] : 0,
        R["baseline-memory " j] ? R["product-embedded " j] / R["baseline-memory " j] : 0
    }
    if (anyfailed) { print "\nFAILED runs (not in the medians), marked *: see the logs"; exit 1 }
  }' "$RESULTS"
