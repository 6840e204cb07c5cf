"""The product behind Stoplight Prism's validating proxy: every answer that passes through it is checked against the
product's own OpenAPI document, and an answer that violates it carries an ``sl-violations`` header."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any, Iterator

import httpx
import pytest

HERE = Path(__file__).resolve().parent
# The product's start-up, free ports and redis-server helpers are the Python client's test support.
sys.path.insert(0, str(HERE.parents[1] / "clients" / "python"))
from tests import support  # noqa: E402

if os.environ.get("LECTURES_API_DLL"):
    # Measuring another build (an older one) with the same drive: LECTURES_API_DLL=/path/to/Api.dll.
    support.PRODUCT_DLL = Path(os.environ["LECTURES_API_DLL"])

PRISM = HERE / "node_modules" / ".bin" / "prism"


@dataclass
class Answer:
    operation: str
    status: int
    expected: int
    request: list[dict[str, Any]]
    response: list[dict[str, Any]]


@dataclass
class Validator:
    """Prism in front of one product; ``call`` sends a request through it and records what Prism said of the answer."""

    url: str
    document: dict[str, Any]
    # A product without keys accepts any; sending one keeps the request within the document's security schemes.
    default_key: str | None = None
    answers: list[Answer] = field(default_factory=list)
    checked: int = 0

    def operation(self, method: str, template: str) -> str:
        return str(self.document["paths"][template][method.lower()]["operationId"])

    def call(self, method: str, template: str, expect: int, *, key: str | None = None, json_body: Any = None,
             content: bytes | None = None, headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
             **ids: str) -> httpx.Response:
        all_headers = dict(headers or {})
        key = key or self.default_key
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        response = httpx.request(method, self.url + template.format(**ids), json=json_body, content=content,
                                 headers=all_headers, params=params, timeout=60)
        violations = json.loads(response.headers.get("sl-violations", "[]"))
        answer = Answer(self.operation(method, template), response.status_code, expect,
                        [v for v in violations if v["location"][:1] == ["request"]],
                        [v for v in violations if v["location"][:1] != ["request"]])
        self.answers.append(answer)
        REPORT.append(answer)
        return response

    def forget_last(self) -> None:
        """Drops the last answer: the drive could not produce the refusal it meant to that time, and tries again."""
        REPORT.remove(self.answers.pop())

    def check(self) -> None:
        """Every answer since the last check has the status the drive meant to produce and conforms to the document; a
        request meant to be valid (a 2xx) also conforms (a refusal's request is wrong on purpose)."""
        problems = []
        since, self.checked = self.checked, len(self.answers)
        for a in self.answers[since:]:
            if a.status != a.expected:
                problems.append(f"{a.operation}: expected {a.expected}, got {a.status}")
            for v in a.response:
                problems.append(f"{a.operation} {a.status}: {'.'.join(map(str, v['location']))}: {v['message']}")
            if 200 <= a.expected < 300:
                for v in a.request:
                    problems.append(f"{a.operation} {a.status} (request): {v['message']}")
        assert not problems, "\n".join(problems)


# Every answer of the run and every document it was checked against, for the closing coverage check and summary.
REPORT: list[Answer] = []
DOCUMENTS: list[dict[str, Any]] = []


def start_validator(product: support.Product, folder: Path) -> tuple[Validator, subprocess.Popen[bytes]]:
    if not PRISM.exists():
        raise RuntimeError(f"{PRISM} is missing: run `npm ci` in tests/conformance (.ci/run does)")
    document = httpx.get(product.url + "/openapi/v1.json", timeout=10).json()
    path = folder / "openapi.json"
    path.write_text(json.dumps(document))
    DOCUMENTS.append(document)
    port = support.free_port()
    log = open(folder / "prism.log", "wb")
    prism = subprocess.Popen([str(PRISM), "proxy", str(path), product.url, "-p", str(port), "-h", "127.0.0.1"],
                             stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/health/live", timeout=2)
            break
        except httpx.HTTPError:
            if prism.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prism did not start: " + (folder / "prism.log").read_text()[-2000:])
            time.sleep(0.2)
    return Validator(url, document), prism


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[str]:
    """An OpenAI-compatible chat completions server on loopback: a last message containing ``[fail]`` is answered 400
    (not retried by the client), ``[slow]`` after 10 s, anything else at once; with ``"stream": true`` (the product's
    default, Sessions:Streaming) the reply comes as ``chat.completion.chunk`` events ending in ``data: [DONE]``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            last = str(body.get("messages", [{}])[-1].get("content", ""))
            if "[slow]" in last:
                time.sleep(10)
            if "[fail]" not in last and body.get("stream"):
                self._stream(["a ", "reply"])
                return
            status, answer = (400, {"error": {"message": "refused", "type": "invalid_request_error"}}) if "[fail]" in last else (
                200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000, "model": "fake",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "a reply"}, "finish_reason": "stop"}]})
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the product gave up first

        def _stream(self, pieces: list[str]) -> None:
            chunks = [{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "fake",
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}]} for piece in pieces]
            chunks.append({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "fake",
                           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the product gave up first

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def running(folder: Path, env: dict[str, str], default_key: str | None = None) -> Iterator[tuple[support.Product, Validator]]:
    product = support.Product(folder / "product.log", env)
    prism = None
    try:
        product.wait_ready()
        validator, prism = start_validator(product, folder)
        validator.default_key = default_key
        yield product, validator
    finally:
        if prism is not None:
            stop(prism)
        product.stop()


@pytest.fixture(scope="module")
def open_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[support.Product, Validator]]:
    """Embedded mode without keys (loopback), the busy policy Drop, one-second chatbot replies."""
    yield from running(tmp_path_factory.mktemp("open"), {
        "Sessions__BuiltinLatency": "00:00:01", "Agents__BuiltinLatency": "00:00:00.200"}, ANY_KEY)


ANY_KEY = "any-key-a-product-without-keys-accepts"
ADMIN, CLIENT, WORKER, USER, ROBOT, PLAYER, EDGE = (f"conformance-{role}-key-0123456789abcdefghij" for role in (
    "admin", "client", "worker", "user", "robot", "player", "edge"))


@pytest.fixture(scope="module")
def keyed_product(tmp_path_factory: pytest.TempPathFactory, fake_openai: str) -> Iterator[tuple[support.Product, Validator]]:
    """Keys of every role, an edge limit of 50 requests per second and one open stream per key, the busy policy Queue
    with one place, three messages per user per minute, and an OpenAI-compatible responder on loopback."""
    env = {"Api__Edge__RequestsPerSecond": "50", "Api__Edge__EventStreamsPerKey": "1",
           "Sessions__BusyPolicy": "Queue", "Sessions__MaxQueue": "1", "Sessions__ResponseTimeout": "00:00:02",
           "Sessions__Responder": "OpenAI", "Sessions__Endpoint": fake_openai, "Sessions__Model": "fake",
           "Sessions__ApiKey": "fake", "RateLimits__User__TokenLimit": "3", "RateLimits__User__TokensPerPeriod": "1",
           "RateLimits__User__ReplenishmentPeriod": "00:01:00"}
    roles = [(ADMIN, "admin", None), (CLIENT, "client", None), (WORKER, "worker", "w1"), (USER, "user", "u1"),
             (ROBOT, "robot", "r1"), (PLAYER, "player", "p1"), (EDGE, "client", None)]
    for n, (key, role, subject) in enumerate(roles):
        env[f"Auth__Keys__{n}__Key"] = key
        env[f"Auth__Keys__{n}__Role"] = role
        if subject:
            env[f"Auth__Keys__{n}__Subject"] = subject
    yield from running(tmp_path_factory.mktemp("keyed"), env)


@pytest.fixture(scope="module")
def redis_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[support.Product, Validator, support.RedisServer]]:
    """Redis mode against a redis-server of its own, which the test stops to see 503 storage_unavailable."""
    folder = tmp_path_factory.mktemp("redis")
    redis = support.RedisServer(folder)
    try:
        for product, validator in running(folder, {"ConnectionStrings__Redis": redis.address}, ANY_KEY):
            yield product, validator, redis
    finally:
        redis.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The validator's verdict over the whole drive: answers, answers that violate the document, and of which kinds."""
    if not REPORT:
        return
    violating = [a for a in REPORT if a.response]
    # A kind: what is violated (the keyword) and where (the location, without array indices), whatever the operation.
    kinds = Counter(f"{v.get('code')} at {re.sub(r'[.][0-9]+', '[]', '.'.join(map(str, v['location'])))}"
                    for a in violating for v in a.response)
    terminalreporter.write_line(
        f"conformance: {len(violating)} of {len(REPORT)} answers violate the OpenAPI document "
        f"({len(kinds)} kinds of violation; {len({a.operation for a in REPORT})} operations, "
        f"statuses {sorted({a.status for a in REPORT})})")
    for kind, count in kinds.most_common():
        example = next(f"{a.operation} {a.status}: {v['message']}" for a in violating for v in a.response
                       if kind.endswith(re.sub(r'[.][0-9]+', '[]', '.'.join(map(str, v['location'])))))
        terminalreporter.write_line(f"  {count} x {kind} (e.g. {example})")
