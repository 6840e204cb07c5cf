#!/usr/bin/env bash
# Idle memory per activation, embedded mode: for each grain kind, a fresh API silo; WARM activations of the kind (JIT,
# pools and caches warmed; not counted), then resident memory (VmRSS) and live managed heap after a full GC
# (dotnet-gcdump forces it), then N more activations through the public REST API (wrk, PARALLEL strictly sequential
# clients, tests/bench/memory-activate.lua), SETTLE seconds of quiet, a check that Orleans counts WARM + N activations
# of the grain type (/dashboard/DashboardCounters), and the same measures again. Prints bytes per activation, the
# growth split by owner and the types that grew most (from the two heap dumps), so the activation's own cost can be
# told from the store's copy of the state and the reminders. Usage: tests/bench-memory.sh [job|job-completed|lecture|room|session ...]
# env: N=100000 WARM=2000 PARALLEL=4 TOP=25 SETTLE_SECONDS= SKIP_BUILD=1 OUT=/tmp/bench-memory (dumps and reports are kept there)
#      HTTP_PORT=8400 SILO_PORT=11400 GATEWAY_PORT=30400
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}; WARM=${WARM:-2000}; PARALLEL=${PARALLEL:-4}; TOP=${TOP:-25}; OUT=${OUT:-/tmp/bench-memory}
HTTP_PORT=${HTTP_PORT:-8400}; SILO_PORT=${SILO_PORT:-11400}; GATEWAY_PORT=${GATEWAY_PORT:-30400}
KINDS=("$@"); [[ ${#KINDS[@]} -gt 0 ]] || KINDS=(job lecture room session)
BIN=bin/Release/net10.0
BASE="http://127.0.0.1:$HTTP_PORT"
export PATH="$PATH:$HOME/.dotnet/tools"
for tool in wrk jq dotnet-gcdump dotnet-counters; do
  command -v $tool >/dev/null || { echo "$tool is needed (wrk, jq: apt-get; dotnet-gcdump, dotnet-counters: dotnet tool install -g)" >&2; exit 2; }
done
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build Orleans.sln -c Release -v quiet -nologo
mkdir -p "$OUT"

declare -A GRAIN=([job]=Lectures.Grains.Jobs.JobGrain [job-completed]=Lectures.Grains.Jobs.JobGrain
  [lecture]=Lectures.Grains.Lectures.LectureGrain [room]=Lectures.Grains.Rooms.RoomGrain
  [session]=Lectures.Grains.Sessions.UserSessionGrain)
# Sessions: the reply follows at once, and the recovery reminder goes at its next tick (5 s); wait for both.
declare -A SETTLE=([job]=3 [job-completed]=3 [lecture]=3 [room]=3 [session]=15)
# SETTLE_SECONDS: wait this long instead before the second measure (330: past Orleans' 5-minute reminder list refresh).

SILO=""; WRKS=()
cleanup() {
  for pid in "${WRKS[@]}" $SILO; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# activate KIND COUNT PREFIX CLIENTS: COUNT grains, split over CLIENTS sequential wrk clients; fails on any non-2xx.
# Sets REQUESTS (not a subshell, so the clients are killed on exit).
activate() {
  local kind=$1 count=$2 prefix=$3 clients=$4 c each ok=0 failed=0
  WRKS=()
  for c in $(seq 1 "$clients"); do
    each=$(( count / clients + (c <= count % clients ? 1 : 0) ))
    rm -f "$OUT/done.$c"
    KIND=$kind COUNT=$each PREFIX="$prefix$c-" DONE="$OUT/done.$c" \
      wrk -t1 -c1 -d3600s --timeout 30s -s tests/bench/memory-activate.lua "$BASE" >/dev/null 2>&1 & WRKS+=($!)
  done
  for c in $(seq 1 "$clients"); do
    while [[ ! -s "$OUT/done.$c" ]]; do
      kill -0 "${WRKS[$((c - 1))]}" 2>/dev/null || { echo "wrk client $c died" >&2; exit 1; }
      sleep 1
    done
    read -r o f < "$OUT/done.$c"; ok=$((ok + o)); failed=$((failed + f))
  done
  for pid in "${WRKS[@]}"; do kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  WRKS=()
  (( failed == 0 )) || { echo "$kind: $failed requests failed (of $((ok + failed)))" >&2; exit 1; }
  REQUESTS=$ok
}

activations() { # grain type -> activation count on this silo
  curl -sf "$BASE/dashboard/DashboardCounters" | jq --arg t "$1" '[.simpleGrainStats[] | select(.grainType == $t) | .activationCount] | add // 0'
}

# measure LABEL: full GC (the heap dump forces it), then "rss_bytes managed_bytes"; keeps the dump's type report.
measure() {
  local label=$1 rss managed
  dotnet-gcdump collect -p "$SILO" -o "$OUT/$label.gcdump" >/dev/null 2>&1
  rss=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$SILO/status")
  # Live managed bytes as of that GC: heap size minus fragmentation, over every generation.
  dotnet-counters collect -p "$SILO" --counters System.Runtime --format csv -o "$OUT/$label.csv" --duration 00:00:00:02 >/dev/null 2>&1
  managed=$(awk -F, '/last_collection.heap.size/ {size[$3] = $5} /last_collection.heap.fragmentation.size/ {frag[$3] = $5}
    END {for (k in size) s += size[k]; for (k in frag) f += frag[k]; printf "%d", s - f}' "$OUT/$label.csv")
  dotnet-gcdump report "$OUT/$label.gcdump" > "$OUT/$label.txt"
  echo "$rss $managed"
}

# typediff BEFORE AFTER COUNT: the types whose total size grew most, per activation. A report line gives the size of
# one object of the type and the count (arrays of one type are grouped by size, so their totals are approximate).
typediff() {
  awk -v n="$3" -v top="$TOP" '
    function parse(line,   f, bytes, cnt, type) {
      if (line !~ /^ *[0-9,]+ +[0-9,]+  /) return 0
      split(line, f, " "); bytes = f[1]; cnt = f[2]; gsub(",", "", bytes); gsub(",", "", cnt)
      type = line; sub(/^ *[0-9,]+ +[0-9,]+  /, "", type); sub(/ +\(Bytes > [0-9]+[KM]?\)/, "", type); sub(/  \[[^]]*\]$/, "", type)
      P_bytes = bytes * cnt; P_count = cnt; P_type = type; return 1
    }
    FNR == NR { if (parse($0)) { b[P_type] += P_bytes; c[P_type] += P_count }; next }
    { if (parse($0)) { a[P_type] += P_bytes; d[P_type] += P_count } }
    END {
      for (t in a) { db = a[t] - b[t]; if (db > 0) print db, (d[t] - c[t]), t }
    }' "$1" "$2" | sort -k1,1nr | awk -v n="$3" -v top="$TOP" 'NR <= top {
      bytes = $1; cnt = $2; $1 = ""; $2 = ""; sub(/^  /, "")
      printf "    %8.1f B  %5.2f objects  %s\n", bytes / n, cnt / n, $0 }'
}

# categories BEFORE AFTER COUNT: the growth per activation split into who owns it (by type name; strings and byte
# arrays cannot be told apart by type, so they are listed on their own).
categories() {
  awk -v n="$3" '
    function cat(t) {
      if (t ~ /ProcessMemoryGrainStorage|^System\.BinaryData$/) return "store (the in-process copy of the state)"
      if (t ~ /^Lectures\./) return "ours (grain, state, helpers, events)"
      if (t ~ /Reminder/) return "reminders (in-memory reminder service)"
      if (t ~ /Stream/) return "streams"
      if (t ~ /^System\.(String|Byte\[\])$/) return "strings and byte arrays (keys, ids, serialized state)"
      if (t ~ /Orleans|ActivationData|OrderedObserver|MemberState|CollectionRegistration|LruItem|DependencyInjection|Message|Lifecycle/) return "Orleans activation (catalog, scheduler, directory, DI scope, state bridge)"
      return "other runtime objects (locks, tasks, delegates, arrays)"
    }
    function parse(line,   f, bytes, cnt, type) {
      if (line !~ /^ *[0-9,]+ +[0-9,]+  /) return 0
      split(line, f, " "); bytes = f[1]; cnt = f[2]; gsub(",", "", bytes); gsub(",", "", cnt)
      type = line; sub(/^ *[0-9,]+ +[0-9,]+  /, "", type); sub(/ +\(Bytes > [0-9]+[KM]?\)/, "", type); sub(/  \[[^]]*\]$/, "", type)
      P_bytes = bytes * cnt; P_type = type; return 1
    }
    FNR == NR { if (parse($0)) c[cat(P_type)] -= P_bytes; next }
    { if (parse($0)) c[cat(P_type)] += P_bytes }
    END { for (k in c) if (c[k] / n >= 1 || c[k] / n <= -1) printf "    %8.0f B  %s\n", c[k] / n, k }' "$1" "$2" | sort -k1,1nr
}

common=(Sessions__BuiltinLatency=00:00:00
  RateLimits__User__TokenLimit=100000000 RateLimits__User__TokensPerPeriod=100000000
  RateLimits__Global__TokenLimit=100000000 RateLimits__Global__TokensPerPeriod=100000000
  Orleans__SiloPort=$SILO_PORT Orleans__GatewayPort=$GATEWAY_PORT Logging__LogLevel__Default=Warning)
echo "N=$N per kind (after $WARM warm-up activations), $PARALLEL sequential clients; dumps in $OUT" >&2
for kind in "${KINDS[@]}"; do
  grain=${GRAIN[$kind]:?unknown kind $kind}
  env "${common[@]}" dotnet src/Api/$BIN/Api.dll --urls "$BASE" >"$OUT/$kind.log" 2>&1 & SILO=$!
  for _ in $(seq 1 150); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health/ready" || true)" == "200" ]] && break; sleep 0.2; done
  activate "$kind" "$WARM" w 1
  sleep "${SETTLE[$kind]}"
  read -r rss0 heap0 < <(measure "$kind-before")
  t0=$(date +%s)
  activate "$kind" "$N" m "$PARALLEL"
  t1=$(date +%s)
  sleep "${SETTLE_SECONDS:-${SETTLE[$kind]}}"
  count=0
  for _ in $(seq 1 30); do count=$(activations "$grain"); (( count == WARM + N )) && break; sleep 1; done
  (( count == WARM + N )) || { echo "$kind: Orleans counts $count activations of $grain, expected $((WARM + N))" >&2; exit 1; }
  read -r rss1 heap1 < <(measure "$kind-after")
  others=$(curl -sf "$BASE/dashboard/DashboardCounters" | jq -r --arg t "$grain" \
    '[.simpleGrainStats[] | select(.grainType != $t and .activationCount > 10) | "\(.grainType | split(".") | last)=\(.activationCount)"] | join(" ")')
  echo "== $kind: $N activations of $grain ($REQUESTS requests in $((t1 - t0)) s; Orleans counts $count incl. warm-up)"
  echo "   resident   $(( (rss1 - rss0) / N )) B per activation  ($(( rss0 / 1048576 )) -> $(( rss1 / 1048576 )) MiB)"
  echo "   managed    $(( (heap1 - heap0) / N )) B per activation  ($(( heap0 / 1048576 )) -> $(( heap1 / 1048576 )) MiB live after a full GC)"
  dump0=$(awk '/GC Heap bytes/ {gsub(",", "", $1); print $1}' "$OUT/$kind-before.txt")
  dump1=$(awk '/GC Heap bytes/ {gsub(",", "", $1); print $1}' "$OUT/$kind-after.txt")
  echo "   heap dump  $(( (dump1 - dump0) / N )) B per activation  (objects reachable in the gcdump)"
  [[ -z "$others" ]] || echo "   other grains with more than 10 activations: $others"
  echo "   growth by owner, per activation (gcdump; arrays are grouped by size, so their totals are approximate):"
  categories "$OUT/$kind-before.txt" "$OUT/$kind-after.txt" "$N"
  echo "   growth by type, per activation (gcdump):"
  typediff "$OUT/$kind-before.txt" "$OUT/$kind-after.txt" "$N"
  kill "$SILO"; wait "$SILO" 2>/dev/null || true; SILO=""
done
