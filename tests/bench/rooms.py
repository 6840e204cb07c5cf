#!/usr/bin/python3
"""One phase of tests/bench-rooms.sh: one API silo (Redis mode, Rooms:MaxMessages = N) and its own redis-server.

Python 3 standard library only (run it with /usr/bin/python3); the HTTP and RESP helpers are history.py's. Steps:
  1. a room with one agent and one player; a few warm-up posts (JIT, connections; not measured);
  2. fill: N posts, so the room keeps exactly N messages (Rooms:MaxMessages = N) and every later post trims one;
  3. latency: WARMUP + SAMPLES posts, timed on the client from the request's first byte to the response's last;
  4. bytes: K posts with Redis' counters (INFO stats total_net_input_bytes, INFO commandstats) before and after,
     minus those of an idle window of the same length right after it, divided by K;
  5. stored: MEMORY USAGE of the room's keys.
Every post is 8,000 seeded random Cyrillic letters with its own clientMessageId and agentIds [] (no agent is
triggered: a post's own write is measured, not the replies it would cause).
Prints "RESULT ..." (one line, for the table) and "DETAIL ..." lines on stdout; progress on stderr.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history import Api, Redis, SCRIPT_COMMANDS, delta, log, percentile, text  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api-port", type=int, required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--chars", type=int, default=8000)
    a = p.parse_args()

    room = f"rb{a.messages}-room-x"
    api = Api(a.api_port)
    redis = Redis(a.redis_port)
    counter = iter(range(1, 10**9))

    def post():
        n = next(counter)
        body = json.dumps({"senderId": "p1", "text": text(f"{room}/{n}", a.chars), "clientMessageId": f"c{n}", "agentIds": []},
                          ensure_ascii=False).encode("utf-8")
        t0 = time.perf_counter()
        status, data = api.request("POST", f"/api/rooms/{room}/messages", body)
        dt = time.perf_counter() - t0
        if status != 201:
            raise RuntimeError(f"post {n}: {status} {data[:300]!r}")
        return dt * 1000

    agents = {"agents": [{"agentId": "a1", "name": "Agent", "persona": "Helpful"}]}
    status, data = api.request("PUT", f"/api/rooms/{room}", json.dumps(agents).encode())
    if status != 200:
        raise RuntimeError(f"PUT room: {status} {data[:300]!r}")
    status, data = api.request("PUT", f"/api/rooms/{room}/players/p1")
    if status != 200:
        raise RuntimeError(f"join: {status} {data[:300]!r}")

    started = time.monotonic()
    for _ in range(a.messages):
        post()
    log(f"  {a.label} N={a.messages}: filled the room with {a.messages} posts in {time.monotonic() - started:.1f} s")

    times = []
    lat_before = redis.snapshot()
    for i in range(a.warmup + a.samples):
        dt = post()
        if i >= a.warmup:
            times.append(dt)
    lat_seconds, lat_net, _ = delta(lat_before, redis.snapshot())
    times.sort()

    before = redis.snapshot()
    for _ in range(a.k):
        post()
    after = redis.snapshot()
    seconds, net, calls = delta(before, after)
    idle_before = redis.snapshot()
    time.sleep(max(0.0, seconds - (time.monotonic() - idle_before[0])))
    idle_seconds, idle_net, idle_calls = delta(idle_before, redis.snapshot())
    net_per_post = (net - idle_net) / a.k
    per_post = {c: (calls.get(c, 0) - idle_calls.get(c, 0)) / a.k for c in set(calls) | set(idle_calls)}
    scripts = sum(v for c, v in per_post.items() if c in SCRIPT_COMMANDS)
    writes = sum(v for c, v in per_post.items() if c not in SCRIPT_COMMANDS and redis.is_write(c))

    stored = redis.stored_bytes(room)
    status, data = api.request("GET", f"/api/rooms/{room}/messages?after=0&limit=1000")
    kept = len(json.loads(data)["messages"]) if status == 200 else -1

    p50, p99 = percentile(times, 0.50), percentile(times, 0.99)
    print(f"RESULT {a.label} {a.messages} {net_per_post:.0f} {writes:.2f} {scripts:.2f} {p50:.2f} {p99:.2f} {stored} {len(times)} {kept}")
    fmt = lambda d: " ".join(f"{c} {v:.2f}" for c, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])) if abs(v) >= 0.005) or "-"
    print(f"DETAIL {a.label} N={a.messages}: per post (K={a.k} posts in {seconds * 1000:.0f} ms; {kept} messages kept): "
          f"{net_per_post:.0f} bytes; commands: {fmt(per_post)}")
    print(f"DETAIL {a.label} N={a.messages}: idle window {idle_seconds * 1000:.0f} ms: {idle_net} bytes (subtracted)")
    print(f"DETAIL {a.label} N={a.messages}: latency run ({len(times)} timed posts after {a.warmup} warm-up, {lat_seconds:.1f} s): "
          f"{lat_net / (a.samples + a.warmup):.0f} bytes/post; min {times[0]:.2f} p90 {percentile(times, 0.9):.2f} max {times[-1]:.2f} ms")


if __name__ == "__main__":
    main()
