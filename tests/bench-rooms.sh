#!/usr/bin/env bash
# What a room post costs to write as the room fills, in Redis mode, for one or two builds of the API silo in one run
# (a before/after comparison). For every kept-message count N (MESSAGES, default 100 and 1000) and build: a fresh
# redis-server on a free loopback port (--save '' --appendonly no, in a temp dir) and an API silo on free ports with
# ConnectionStrings:Redis set and Rooms:MaxMessages = N. tests/bench/rooms.py then fills one room to N messages and
# times SAMPLES posts (p50/p99, client side, keep-alive) and counts Redis' input bytes and commands over K posts (minus
# an idle window of the same length). Every post is 8,000 seeded random Cyrillic letters (the API's maximum;
# non-ASCII) with its own clientMessageId and agentIds [] (the post's own write, no replies).
# Table: bytes/post = Redis input bytes per post; writes/post = data-changing commands per post; stored = MEMORY USAGE
# of the room's keys.
# Usage: tests/bench-rooms.sh
#   env: BEFORE=path/to/Api.dll AFTER=path/to/Api.dll (either may be omitted: this checkout's
#        src/Api/bin/Release/net10.0/Api.dll; neither: this checkout only), SKIP_BUILD=1, MESSAGES="100 1000",
#        K=10 SAMPLES=200 WARMUP=20, LOGS=dir (default a new /tmp/bench-rooms.* directory)
set -euo pipefail
ORIGIN=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
MESSAGES=${MESSAGES:-"100 1000"}
K=${K:-10}; SAMPLES=${SAMPLES:-200}; WARMUP=${WARMUP:-20}
LOGS=${LOGS:-$(mktemp -d /tmp/bench-rooms.XXXXXX)}; mkdir -p "$LOGS"
DEFAULT_DLL=$ROOT/src/Api/bin/Release/net10.0/Api.dll

for tool in redis-server curl dotnet "$PY"; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install -y redis-server curl)" >&2; exit 2; }
done

resolve() { (cd "$ORIGIN" && realpath -m "$1"); }
declare -A DLL
if [[ -z "${BEFORE:-}" && -z "${AFTER:-}" ]]; then
  BUILDS=(current); DLL[current]=$DEFAULT_DLL
else
  BUILDS=(before after)
  DLL[before]=$([[ -n "${BEFORE:-}" ]] && resolve "$BEFORE" || echo "$DEFAULT_DLL")
  DLL[after]=$([[ -n "${AFTER:-}" ]] && resolve "$AFTER" || echo "$DEFAULT_DLL")
fi
if [[ -z "${SKIP_BUILD:-}" ]] && [[ " ${DLL[*]} " == *" $DEFAULT_DLL "* ]]; then
  flock /tmp/dotnet.lock nice -n 10 dotnet build src/Api/Api.csproj -c Release -v quiet -nologo
fi
for b in "${BUILDS[@]}"; do [[ -f "${DLL[$b]}" ]] || { echo "$b: ${DLL[$b]} does not exist" >&2; exit 2; }; done

# cleanup (trapped on exit), free_ports and stop.
source tests/bench/lib.sh

RESULTS=$LOGS/results.txt; : >"$RESULTS"
DETAILS=$LOGS/details.txt; : >"$DETAILS"
run_id=$$-$(date +%s)
for n in $MESSAGES; do
  for build in "${BUILDS[@]}"; do
    read -r redis_port api_port silo_port gateway_port <<<"$(free_ports 4)"
    dir=$(mktemp -d "$LOGS/redis-$build-$n.XXXX")
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$LOGS/redis-$build-$n.log" 2>&1 &
    redis_pid=$!; PIDS+=("$redis_pid")
    env ConnectionStrings__Redis="127.0.0.1:$redis_port" \
      Orleans__ClusterId="roombench-$run_id-$build-$n" Orleans__ServiceId="roombench-$run_id-$build-$n" \
      Orleans__SiloPort="$silo_port" Orleans__GatewayPort="$gateway_port" \
      Rooms__MaxMessages="$n" Agents__BuiltinLatency=00:00:00 \
      dotnet "${DLL[$build]}" --urls "http://127.0.0.1:$api_port" >"$LOGS/api-$build-$n.log" 2>&1 &
    api_pid=$!; API_PIDS+=("$api_pid")
    ready=""
    for _ in $(seq 1 150); do
      [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/health/ready" || true)" == "200" ]] && { ready=1; break; }
      kill -0 "$api_pid" 2>/dev/null || break
      sleep 0.2
    done
    [[ -n "$ready" ]] || { echo "$build: the API did not get ready; $LOGS/api-$build-$n.log:" >&2; tail -20 "$LOGS/api-$build-$n.log" >&2; exit 1; }
    echo "$build N=$n: API on 127.0.0.1:$api_port, redis-server on 127.0.0.1:$redis_port" >&2
    "$PY" tests/bench/rooms.py --api-port "$api_port" --redis-port "$redis_port" --label "$build" --messages "$n" \
      --k "$K" --samples "$SAMPLES" --warmup "$WARMUP" >"$LOGS/phase.out"
    grep '^RESULT ' "$LOGS/phase.out" | cut -d' ' -f2- >>"$RESULTS"
    grep '^DETAIL ' "$LOGS/phase.out" | cut -d' ' -f2- | tee -a "$DETAILS" >&2
    stop "$api_pid"; stop "$redis_pid"
  done
done

echo
echo "machine: $(nproc) cores, $(uname -sr), redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'); each post 8,000 non-ASCII characters;"
echo "K=$K posts for bytes, $SAMPLES timed posts for latency, Rooms:MaxMessages=N; logs in $LOGS"
for b in "${BUILDS[@]}"; do echo "$b: ${DLL[$b]}"; done
echo
awk '
  BEGIN { printf "%-8s %5s %12s %11s %12s %8s %8s %10s\n", "build", "N", "bytes/post", "writes/post", "scripts/post", "p50 ms", "p99 ms", "stored KB" }
  { printf "%-8s %5d %12d %11.2f %12.2f %8.2f %8.2f %10.1f\n", $1, $2, $3, $4, $5, $6, $7, $8 / 1024 }
' "$RESULTS"
