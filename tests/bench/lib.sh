# Shared by the Redis-mode write-cost benchmarks (tests/bench-history.sh, tests/bench-rooms.sh); sourced, not run.
# Needs PY (a Python 3) set by the caller. PIDS holds redis-servers, API_PIDS API silos; both are stopped on exit.
PIDS=(); API_PIDS=()
# API silos first (a silo whose Redis is gone waits its bounded shutdown, 25 s), then the redis-servers.
cleanup() {
  for pid in "${API_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${API_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true
}
trap cleanup EXIT

# Free loopback ports, distinct from each other (all held open until all are chosen).
free_ports() { "$PY" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"; }

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
