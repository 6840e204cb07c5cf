"""Test helpers: the real product on free loopback ports, a scripted fake API, and a TCP proxy that can cut streams."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[3]
PRODUCT_DLL = REPO_ROOT / "src" / "Api" / "bin" / "Release" / "net10.0" / "Api.dll"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Product:
    """The product's Release build in embedded mode (no Redis), on free loopback ports."""

    def __init__(self, log_path: Path, extra_env: dict[str, str] | None = None) -> None:
        if not PRODUCT_DLL.exists():
            raise RuntimeError(f"{PRODUCT_DLL.relative_to(REPO_ROOT)} is missing: run "
                               "`dotnet build Orleans.sln -c Release` first")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({
            "Orleans__SiloPort": str(free_port()),
            "Orleans__GatewayPort": str(free_port()),
            "Sessions__BuiltinLatency": "00:00:00.200",
            "Agents__BuiltinLatency": "00:00:00.200",
            "Logging__LogLevel__Default": "Warning",
            "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
        })
        env.pop("ConnectionStrings__Redis", None)
        env.update(extra_env or {})
        self.log_path = log_path
        self._env = env
        self._log = open(log_path, "wb")
        self._start()

    def _start(self) -> None:
        self.process = subprocess.Popen(["dotnet", str(PRODUCT_DLL), "--urls", self.url], env=self._env,
                                        cwd=PRODUCT_DLL.parent, stdout=self._log, stderr=subprocess.STDOUT)

    def restart(self) -> None:
        """Stops the process (SIGTERM, as an orchestrator does) and starts it again on the same ports."""
        self.process.terminate()
        self.process.wait(30)
        self._start()
        self.wait_ready()

    def wait_ready(self, deadline_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the product exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the product was not ready within {deadline_seconds} s: {self.tail()}")

    def tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


class RedisServer:
    """A real redis-server of the test's own on a free loopback port (append-only, fsync always), in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder),
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# ---------------------------------------------------------------- a scripted fake API


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Drop:
    """Close the connection without an answer (a reset as the client sees it)."""


@dataclass
class Stream:
    """An SSE answer: these frames, then the connection is dropped (``hold=0``) or kept open with keep-alives."""

    frames: list[str]
    hold: float = 0.0


Action = Reply | Drop | Stream


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


class FakeApi:
    """A tiny HTTP server on 127.0.0.1 that answers each route from a script (the last action of a route repeats)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: dict[tuple[str, str], list[Action]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with fake._lock:
                    fake.requests.append(Recorded(self.command, path, query, dict(self.headers.items()), body))
                    queue = fake._script.get((self.command, path))
                    action: Action = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else Reply(
                        404, {"status": 404, "code": "not_found", "title": "Not found"})
                if isinstance(action, Drop):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(action, Stream):
                    self._stream(action)
                    return
                time.sleep(action.delay)
                data = json.dumps(action.body).encode() if action.body is not None else b""
                self.send_response(action.status)
                content_type = "application/problem+json" if action.status >= 400 else "application/json"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in action.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass

            def _stream(self, action: Stream) -> None:
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for frame in action.frames:
                        self.wfile.write(frame.encode())
                        self.wfile.flush()
                        time.sleep(0.02)
                    end = time.monotonic() + action.hold
                    while time.monotonic() < end:
                        self.wfile.write(b": keep-alive\n\n")
                        self.wfile.flush()
                        time.sleep(0.1)
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the client left first

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def script(self, method: str, path: str, *actions: Action) -> None:
        with self._lock:
            self._script[(method, path)] = list(actions)

    def calls(self, method: str, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def problem(status: int, code: str, detail: str = "", **extensions: Any) -> dict[str, Any]:
    return {"status": status, "title": code, "detail": detail, "code": code, **extensions}


# ---------------------------------------------------------------- a TCP proxy that can cut its connections


class CuttingProxy:
    """Forwards 127.0.0.1:port to an upstream address; :meth:`cut` drops every open connection, as a failing
    network or load balancer would."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()
