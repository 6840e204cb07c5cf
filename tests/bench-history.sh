#!/usr/bin/env bash
# What a chatbot session costs to write per message as its history grows, in Redis mode, for one or two builds of the
# API silo in one run (a before/after comparison). For every history length N (HISTORIES, default 10 and 200) and
# build: a fresh redis-server on a free loopback port (--save '' --appendonly no, in a temp dir) and an API silo on free
# ports with ConnectionStrings:Redis set, the built-in responder with no latency, rate limits that never refuse and
# Sessions:MaxHistory = N, so a session filled to N entries stays at exactly N (the oldest entries drop, as in a long
# session at the default cap of 200). Every message text is 8,000 seeded random Cyrillic letters (the API's maximum;
# non-ASCII; no repetition a compressor could flatter); the built-in reply quotes its first 200 characters.
# tests/bench/history.py then, per build and N:
#   - fills users to N entries (N/2 exchanges of user message + reply, wait=true);
#   - latency: WARMUP + SAMPLES sends POST /api/users/{u}/messages?wait=false (202 once the request is durably accepted),
#     round robin over USERS users, timed on the client (Python http.client, keep-alive, request to last response byte);
#     after each one GET /api/users/{u}/session until idle (untimed), so no send is refused as busy (409) and the
#     server is quiet when the next timed send starts. p50/p99 over SAMPLES (the WARMUP first ones are dropped);
#   - bytes: K wait=true sends to one more user at N (each completes, reply written, before the next), with Redis' own
#     counters before and after: INFO stats total_net_input_bytes (everything Redis read from its clients: RESP framing,
#     keys, scripts' arguments and any other command included) and INFO commandstats. Background traffic
#     (membership, reminders; a few hundred bytes every 30 s) is measured in an idle window of the same length right
#     after it and subtracted (and printed). The K window starts SETTLE seconds after the latency run, once the
#     sessions' recovery reminders have fired and removed themselves (its first message registers the reminder again).
# Table: bytes/msg = Redis input bytes per message; scripts/msg = EVAL/EVALSHA/FCALL calls per message (each a round
# trip); writes/msg = data-changing commands Redis executed per message (commands flagged "write" in COMMAND INFO:
# HSET, HMSET, ZADD, DEL, ..., also those run inside scripts); stored = MEMORY USAGE of that user's keys at N.
# DETAIL lines give every command per message, the idle traffic, and the bytes per message over the latency run
# (which, unlike the K window, includes the reminders a session re-registers after being idle for 5 s).
# Seen on the code of e1ad4ae: a fill send at N=200 is now and then answered 502 session.responder_failed with nothing
# in the log: the session's recovery reminder (every 5 s) ticks while the accept write of a request is still in flight
# and fails that live request as lost (UserSessionGrain.ReceiveReminder: _running is set only after that write). The fill tolerates it (it sends until the session holds N entries) and
# measures bytes on a user without such a failed entry if there is one (a failed entry is 8,000 characters where a
# reply is about 300); DETAIL lines count them.
# Usage: tests/bench-history.sh
#   env: BEFORE=path/to/Api.dll AFTER=path/to/Api.dll (either may be omitted: this checkout's
#        src/Api/bin/Release/net10.0/Api.dll; neither: this checkout only), SKIP_BUILD=1, HISTORIES="10 200",
#        K=10 SAMPLES=300 WARMUP=20 USERS=3 SETTLE=6, MAX_HISTORY (default N; larger lets history grow past N
#        while measured), LOGS=dir (API and Redis logs; default a new /tmp/bench-history.* directory)
set -euo pipefail
ORIGIN=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
HISTORIES=${HISTORIES:-"10 200"}
K=${K:-10}; SAMPLES=${SAMPLES:-300}; WARMUP=${WARMUP:-20}; USERS=${USERS:-3}; SETTLE=${SETTLE:-6}
LOGS=${LOGS:-$(mktemp -d /tmp/bench-history.XXXXXX)}; mkdir -p "$LOGS"
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
  nice -n 10 dotnet build Orleans.sln -c Release -v quiet -nologo
fi
for b in "${BUILDS[@]}"; do [[ -f "${DLL[$b]}" ]] || { echo "$b: ${DLL[$b]} does not exist" >&2; exit 2; }; done

# cleanup (trapped on exit), free_ports and stop.
source tests/bench/lib.sh

RESULTS=$LOGS/results.txt; : >"$RESULTS"
DETAILS=$LOGS/details.txt; : >"$DETAILS"
run_id=$$-$(date +%s)
for n in $HISTORIES; do
  for build in "${BUILDS[@]}"; do
    read -r redis_port api_port silo_port gateway_port <<<"$(free_ports 4)"
    dir=$(mktemp -d "$LOGS/redis-$build-$n.XXXX")
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$LOGS/redis-$build-$n.log" 2>&1 &
    redis_pid=$!; PIDS+=("$redis_pid")
    env ConnectionStrings__Redis="127.0.0.1:$redis_port" \
      Orleans__ClusterId="histbench-$run_id-$build-$n" Orleans__ServiceId="histbench-$run_id-$build-$n" \
      Orleans__SiloPort="$silo_port" Orleans__GatewayPort="$gateway_port" \
      Sessions__BuiltinLatency=00:00:00 Sessions__MaxHistory="${MAX_HISTORY:-$n}" \
      RateLimits__User__TokenLimit=100000000 RateLimits__User__TokensPerPeriod=100000000 \
      RateLimits__Global__TokenLimit=100000000 RateLimits__Global__TokensPerPeriod=100000000 \
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
    "$PY" tests/bench/history.py --api-port "$api_port" --redis-port "$redis_port" --label "$build" --history "$n" \
      --users "$USERS" --k "$K" --samples "$SAMPLES" --warmup "$WARMUP" --settle "$SETTLE" >"$LOGS/phase.out"
    grep '^RESULT ' "$LOGS/phase.out" | cut -d' ' -f2- >>"$RESULTS"
    grep '^DETAIL ' "$LOGS/phase.out" | cut -d' ' -f2- | tee -a "$DETAILS" >&2
    stop "$api_pid"; stop "$redis_pid"
  done
done

echo
echo "machine: $(nproc) cores, $(uname -sr), redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'); each message 8,000 non-ASCII characters;"
echo "K=$K wait=true sends for bytes, $SAMPLES timed wait=false sends for latency (over $USERS users), Sessions:MaxHistory=${MAX_HISTORY:-N}; logs in $LOGS"
for b in "${BUILDS[@]}"; do echo "$b: ${DLL[$b]}"; done
echo
awk '
  BEGIN { printf "%-8s %5s %12s %10s %11s %8s %8s %10s\n", "build", "N", "bytes/msg", "writes/msg", "scripts/msg", "p50 ms", "p99 ms", "stored KB" }
  { printf "%-8s %5d %12d %10.2f %11.2f %8.2f %8.2f %10.1f%s\n", $1, $2, $3, $4, $5, $6, $7, $8 / 1024, ($10 > 0 ? "  (" $10 " busy retries)" : "") }
' "$RESULTS"
