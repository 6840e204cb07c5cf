#!/usr/bin/python3
"""One phase of tests/bench-history.sh: one API silo (Redis mode, Sessions:MaxHistory = N) and its own redis-server.

Python 3 standard library only (run it with /usr/bin/python3). Steps, in order:
  1. warm-up user: a few wait=true and wait=false sends (JIT, connections; not measured);
  2. fill: the latency users and one bytes user to exactly N history entries, N/2 wait=true sends each (in parallel);
  3. latency: WARMUP + SAMPLES sends, round robin over the latency users: POST .../messages?wait=false, timed on the
     client from the request's first byte to the response's last; then (untimed) GET .../session until it is idle, so
     the next send to that user is never refused as busy and the server is quiet when the next timed send starts;
  4. settle (the sessions' recovery reminders fire and remove themselves);
  5. bytes: K wait=true sends to the bytes user; Redis' counters (INFO stats total_net_input_bytes, INFO commandstats)
     before and after, minus those of an idle window of the same length right after it (Redis' background traffic:
     membership, reminders, and the INFO call itself), divided by K;
  6. stored: MEMORY USAGE of the bytes user's keys (every key whose name contains its user id).
Prints "RESULT ..." (one line, for the table) and "DETAIL ..." lines on stdout; progress on stderr.
"""
import argparse
import http.client
import json
import math
import random
import socket
import sys
import threading
import time

# 33 Cyrillic lowercase letters: 2 bytes each in UTF-8, one UTF-16 unit each (the API counts 8,000 of those).
ALPHABET = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
SCRIPT_COMMANDS = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"}
IGNORED_COMMANDS = {"info", "config|resetstat", "command|info", "memory|usage", "scan", "ping", "client|setname", "client|setinfo"}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def text(seed, chars):
    """Seeded random non-ASCII letters (no repetition a compressor could flatter); different for every message."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(ALPHABET) for _ in range(chars))


class Api:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise

    def send(self, user, body, wait):
        return self.request("POST", f"/api/users/{user}/messages?wait={'true' if wait else 'false'}", body)

    def session(self, user):
        status, data = self.request("GET", f"/api/users/{user}/session")
        if status != 200:
            raise RuntimeError(f"GET session of {user}: {status} {data[:300]!r}")
        return json.loads(data)

    def wait_idle(self, user, limit=60.0):
        deadline = time.monotonic() + limit
        while True:
            s = self.session(user)
            if s["status"] == "idle" and s["queued"] == 0:
                return s
            if time.monotonic() > deadline:
                raise RuntimeError(f"session of {user} not idle after {limit} s")
            time.sleep(0.002)


class Redis:
    """A minimal RESP2 client on one connection: INFO, COMMAND INFO, SCAN, MEMORY USAGE."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP {line!r}")

    def snapshot(self):
        """(monotonic time, total_net_input_bytes, {command: calls}) from one INFO call."""
        info = self.call("INFO", "all")
        now = time.monotonic()
        net, calls = 0, {}
        for line in info.splitlines():
            if line.startswith("total_net_input_bytes:"):
                net = int(line.split(":", 1)[1])
            elif line.startswith("cmdstat_"):
                name, fields = line[len("cmdstat_"):].split(":", 1)
                calls[name] = int(fields.split(",")[0].split("=")[1])
        return now, net, calls

    def is_write(self, command, cache={}):
        if command not in cache:
            base = command.split("|")[0]
            reply = self.call("COMMAND", "INFO", base)
            flags = reply[0][2] if reply and reply[0] else []
            cache[command] = "write" in flags
        return cache[command]

    def stored_bytes(self, fragment):
        total, cursor = 0, "0"
        while True:
            cursor, keys = self.call("SCAN", cursor, "MATCH", f"*{fragment}*", "COUNT", 1000)
            for key in keys:
                total += self.call("MEMORY", "USAGE", key, "SAMPLES", 0) or 0
            if cursor == "0":
                return total


def delta(before, after):
    (t0, n0, c0), (t1, n1, c1) = before, after
    calls = {k: v - c0.get(k, 0) for k, v in c1.items() if k not in IGNORED_COMMANDS and v - c0.get(k, 0) > 0}
    return t1 - t0, n1 - n0, calls


def percentile(sorted_values, q):
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api-port", type=int, required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--history", type=int, required=True)
    p.add_argument("--users", type=int, default=3)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--settle", type=float, default=6)
    p.add_argument("--chars", type=int, default=8000)
    a = p.parse_args()
    if a.history % 2:
        sys.exit("--history must be even (an exchange is 2 entries)")

    prefix = f"hb{a.history}"
    bytes_user = f"{prefix}-bytes-x"
    users = [f"{prefix}-lat{i:02d}-x" for i in range(a.users)]
    seq = iter(range(1, 10**9))
    lock = threading.Lock()

    def body(user):
        with lock:
            n = next(seq)
        return json.dumps({"text": text(f"{user}/{n}", a.chars)}, ensure_ascii=False).encode("utf-8")

    api = Api(a.api_port)
    redis = Redis(a.redis_port)

    # 1. warm-up
    warm = f"{prefix}-warm-x"
    for i in range(10):
        api.send(warm, body(warm), True)
        api.send(warm, body(warm), False)
        api.wait_idle(warm)

    # 2. fill, one thread per user
    started = time.monotonic()
    errors = []

    failed = []

    def fill(user):
        client = Api(a.api_port)
        try:
            n, sends = 0, 0
            while n < a.history:
                # N/2 exchanges; a failed request leaves its user entry without a reply, so count what is there.
                for _ in range(max(1, (a.history - n) // 2)):
                    status, data = client.send(user, body(user), True)
                    sends += 1
                    if status == 502 and b"session.responder_failed" in data:
                        failed.append(user)
                    elif status != 200:
                        raise RuntimeError(f"fill {user}: {status} {data[:300]!r}")
                n = len(client.wait_idle(user)["history"])
                if sends > a.history:
                    raise RuntimeError(f"fill {user}: {n} history entries after {sends} sends, expected {a.history}")
            if n != a.history:
                log(f"  WARNING fill {user}: history has {n} entries, not {a.history}")
        except Exception as ex:  # noqa: BLE001 - reported below
            errors.append(ex)

    threads = [threading.Thread(target=fill, args=(u,)) for u in users + [bytes_user]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    log(f"  {a.label} N={a.history}: filled {len(threads)} users to {a.history} entries in {time.monotonic() - started:.1f} s"
        + (f"; {len(failed)} fill sends answered 502 session.responder_failed" if failed else ""))
    # A failed request leaves a user entry (8,000 characters) where a reply (about 300) would be: the session is a
    # little larger. Measure bytes on a session with none if there is one.
    if bytes_user in failed:
        clean = [u for u in users if u not in failed]
        if clean:
            users[users.index(clean[0])], bytes_user = bytes_user, clean[0]

    # 3. latency of wait=false sends
    times, busy, queued, i = [], 0, 0, 0
    lat_before = redis.snapshot()
    while len(times) < a.samples:
        user = users[i % len(users)]
        payload = body(user)
        t0 = time.perf_counter()
        status, data = api.send(user, payload, False)
        dt = time.perf_counter() - t0
        if status == 409:
            busy += 1  # never expected: the session was idle; wait and retry, not counted
        elif status != 202:
            raise RuntimeError(f"send to {user}: {status} {data[:300]!r}")
        else:
            if json.loads(data).get("status") != "processing":
                queued += 1
            i += 1
            if i > a.warmup:
                times.append(dt * 1000)
        api.wait_idle(user)
    lat_after = redis.snapshot()
    times.sort()
    lat_seconds, lat_net, lat_calls = delta(lat_before, lat_after)
    sent = a.samples + a.warmup
    for user in users:
        n = len(api.session(user)["history"])
        if n != a.history:
            log(f"  WARNING {user}: history has {n} entries after the latency run, not {a.history} (Sessions:MaxHistory?)")

    # 4. settle
    time.sleep(a.settle)

    # 5. bytes for K wait=true sends at N
    payloads = [body(bytes_user) for _ in range(a.k)]
    window_failed = 0
    before = redis.snapshot()
    for payload in payloads:
        status, data = api.send(bytes_user, payload, True)
        if status == 502 and b"session.responder_failed" in data:
            window_failed += 1  # still a message written (its failure instead of a reply); reported
        elif status != 200:
            raise RuntimeError(f"send to {bytes_user}: {status} {data[:300]!r}")
    after = redis.snapshot()
    seconds, net, calls = delta(before, after)
    # The idle window: as long as the K window, right after it (its last reply is written: wait=true answered).
    idle_before = redis.snapshot()
    time.sleep(max(0.0, seconds - (time.monotonic() - idle_before[0])))
    idle_seconds, idle_net, idle_calls = delta(idle_before, redis.snapshot())
    net_per_msg = (net - idle_net) / a.k
    per_msg = {c: (calls.get(c, 0) - idle_calls.get(c, 0)) / a.k for c in set(calls) | set(idle_calls)}
    scripts = sum(v for c, v in per_msg.items() if c in SCRIPT_COMMANDS)
    writes = sum(v for c, v in per_msg.items() if c not in SCRIPT_COMMANDS and redis.is_write(c))

    # 6. stored
    stored = redis.stored_bytes(bytes_user)
    entries = api.session(bytes_user)["history"]
    history = len(entries)
    replies = sum(1 for e in entries if e["role"] == "assistant")
    not_completed = sum(1 for e in entries if e["role"] == "user" and e["status"] != "completed")

    p50, p99 = percentile(times, 0.50), percentile(times, 0.99)
    print(f"RESULT {a.label} {a.history} {net_per_msg:.0f} {writes:.2f} {scripts:.2f} {p50:.2f} {p99:.2f} {stored} {len(times)} {busy}")
    fmt = lambda d: " ".join(f"{c} {v:.2f}" for c, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])) if abs(v) >= 0.005) or "-"
    print(f"DETAIL {a.label} N={a.history}: per message (K={a.k} wait=true sends in {seconds * 1000:.0f} ms; history after: {history} entries, {replies} of them replies, "
          f"{not_completed} requests not completed): "
          f"{net_per_msg:.0f} bytes; commands: {fmt(per_msg)}" + (f"; {window_failed} answered 502 session.responder_failed" if window_failed else ""))
    print(f"DETAIL {a.label} N={a.history}: idle window {idle_seconds * 1000:.0f} ms right after: {idle_net} bytes; commands: "
          f"{fmt({c: v for c, v in idle_calls.items()})} (subtracted)")
    print(f"DETAIL {a.label} N={a.history}: latency run ({sent} wait=false sends, {lat_seconds:.1f} s, idle waits included, nothing "
          f"subtracted): {lat_net / sent:.0f} bytes/message; commands: {fmt({c: v / sent for c, v in lat_calls.items()})}; "
          f"min {times[0]:.2f} p90 {percentile(times, 0.9):.2f} max {times[-1]:.2f} ms; busy {busy}, queued {queued}; "
          f"fill sends answered 502: {len(failed)}")


if __name__ == "__main__":
    main()
