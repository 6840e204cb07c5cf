# A local OTLP/HTTP receiver for tests/bench.sh with OTLP=1: reads each export (traces, metrics, logs) and answers 200
# with an empty protobuf message, as a collector that accepted it. Counts what it got and prints that on exit.
import signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}

class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n, size = counts.get(self.path, (0, 0))
        counts[self.path] = (n + 1, size + len(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

def report(*_):
    for path, (n, size) in sorted(counts.items()):
        print(f"{path}: {n} exports, {size} bytes", flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, report)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
