"""Every operation, and every refusal a running product can be made to answer, through Stoplight Prism's validating
proxy: an answer that does not conform to the product's own OpenAPI document fails the test that drove it.

Each test checks its own answers (status as meant, no violation); the last one checks that together they drove every
operation of the document and every refusal status of the contract."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from conftest import ADMIN, CLIENT, DOCUMENTS, EDGE, PLAYER, REPORT, ROBOT, USER, WORKER, Validator, support

Product = support.Product

JOB = "/api/jobs/{jobId}"
LECTURE = "/api/lectures/{lectureId}"
RUN = "/api/lectures/{lectureId}/robots/{robotId}"
SESSION = RUN + "/sessions/{sessionId}"
ROOM = "/api/rooms/{roomCode}"
PLAYER_ROUTE = ROOM + "/players/{playerId}"
USER_ROUTE = "/api/users/{userId}"
STALE = {"If-Match": '"999999"'}
TOO_BIG = b'{"kind":"' + b"x" * 300_000 + b'"}'
TEXT = {"Content-Type": "text/plain"}
EVENT_SOURCE = {"Accept": "text/event-stream"}
_n = iter(range(1, 1_000_000))


def uid(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}-{next(_n)}"


def wait_until(probe: Any, deadline: float = 20.0) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if value := probe():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_jobs_answers_conform(open_product: tuple[Product, Validator]) -> None:
    _, v = open_product
    job, other = uid("job"), uid("job")
    v.call("POST", "/api/jobs", 201, json_body={"kind": "render", "jobId": job})
    v.call("POST", "/api/jobs", 200, json_body={"kind": "render", "jobId": job})
    v.call("POST", "/api/jobs", 201, json_body={"kind": "render", "jobId": other, "input": {"slides": [1, 2]}})
    v.call("POST", "/api/jobs", 409, json_body={"kind": "other", "jobId": job})
    v.call("POST", "/api/jobs", 400, json_body={"jobId": uid("job")})
    v.call("POST", "/api/jobs", 413, content=TOO_BIG, headers={"Content-Type": "application/json"})
    v.call("POST", "/api/jobs", 415, content=b"render", headers=TEXT)
    v.call("GET", JOB, 200, jobId=job)
    v.call("GET", JOB, 404, jobId=uid("missing"))
    v.call("GET", JOB, 404, jobId=uid("missing"), headers=EVENT_SOURCE)
    v.call("GET", JOB, 400, jobId="-not-an-id")
    v.call("POST", JOB + "/progress", 409, jobId=job, json_body={"workerId": "w1", "progress": 5})  # job.not_started
    v.call("POST", JOB + "/start", 412, jobId=job, json_body={"workerId": "w1"}, headers=STALE)
    v.call("POST", JOB + "/start", 404, jobId=uid("missing"), json_body={"workerId": "w1"})
    v.call("POST", JOB + "/start", 200, jobId=job, json_body={"workerId": "w1"})
    v.call("POST", JOB + "/start", 409, jobId=job, json_body={"workerId": "w2"})  # job.claimed
    v.call("POST", JOB + "/start", 400, jobId=job, json_body={"workerId": "no such id!"})
    v.call("POST", JOB + "/progress", 200, jobId=job, json_body={"workerId": "w1", "progress": 40, "message": "slides"})
    v.call("POST", JOB + "/progress", 200, jobId=job, json_body={"workerId": "w1", "progress": 10})  # applied: false
    v.call("POST", JOB + "/progress", 409, jobId=job, json_body={"workerId": "w2", "progress": 50})  # job.not_owner
    v.call("POST", JOB + "/progress", 412, jobId=job, json_body={"workerId": "w1", "progress": 50}, headers=STALE)
    v.call("POST", JOB + "/progress", 400, jobId=job, json_body={"workerId": "w1", "progress": 101})
    v.call("POST", JOB + "/progress", 415, jobId=job, content=b"50", headers=TEXT)
    v.call("POST", JOB + "/heartbeat", 200, jobId=job, json_body={"workerId": "w1"})
    v.call("POST", JOB + "/heartbeat", 409, jobId=job, json_body={"workerId": "w2"})
    v.call("POST", JOB + "/heartbeat", 404, jobId=uid("missing"), json_body={"workerId": "w1"})
    v.call("POST", JOB + "/complete", 412, jobId=job, json_body={"workerId": "w1"}, headers=STALE)
    v.call("POST", JOB + "/complete", 200, jobId=job, json_body={"workerId": "w1", "result": {"url": "video.mp4"}})
    v.call("POST", JOB + "/complete", 409, jobId=job, json_body={"workerId": "w1"})  # job.terminal
    v.call("POST", JOB + "/fail", 404, jobId=uid("missing"), json_body={"workerId": "w1", "error": "boom"})
    v.call("POST", JOB + "/start", 200, jobId=other, json_body={"workerId": "w1"})
    v.call("POST", JOB + "/fail", 400, jobId=other, json_body={"workerId": "w1"})
    v.call("POST", JOB + "/fail", 200, jobId=other, json_body={"workerId": "w1", "error": "out of disk"})
    v.call("POST", JOB + "/fail", 409, jobId=other, json_body={"workerId": "w1", "error": "again"})
    cancelled = uid("job")
    v.call("POST", "/api/jobs", 201, json_body={"kind": "render", "jobId": cancelled})
    v.call("POST", JOB + "/cancel", 412, jobId=cancelled, headers=STALE)
    v.call("POST", JOB + "/cancel", 200, jobId=cancelled)
    v.call("POST", JOB + "/cancel", 409, jobId=cancelled)
    v.call("POST", JOB + "/cancel", 404, jobId=uid("missing"))
    v.call("GET", JOB + "/events", 404, jobId=uid("missing"))
    v.call("GET", JOB + "/events", 404, jobId=uid("missing"), headers=EVENT_SOURCE)
    v.call("GET", JOB + "/events", 400, jobId="-bad")
    v.check()


def topic(topic_id: str, items: int = 3) -> dict[str, Any]:
    return {"topicId": topic_id, "title": topic_id.title(), "contents": [f"part {i}" for i in range(items)],
            "timeList": [1.5] * items}


def test_lectures_answers_conform(open_product: tuple[Product, Validator]) -> None:
    _, v = open_product
    lecture, robot = uid("lecture"), "r1"
    ids = {"lectureId": lecture, "robotId": robot}
    body = {"title": "Anatomy", "topics": [topic("heart"), topic("lungs", 1)]}
    v.call("PUT", LECTURE, 200, lectureId=lecture, json_body=body)
    v.call("PUT", LECTURE, 412, lectureId=lecture, json_body=body, headers=STALE)
    v.call("PUT", LECTURE, 400, lectureId=lecture, json_body={"title": "x", "topics": [
        {"topicId": "a", "title": "a", "contents": ["one"], "timeList": []}]})
    v.call("PUT", LECTURE, 413, lectureId=lecture, content=TOO_BIG, headers={"Content-Type": "application/json"})
    v.call("PUT", LECTURE, 415, lectureId=lecture, content=b"x", headers=TEXT)
    v.call("GET", LECTURE, 404, lectureId=uid("missing"))
    v.call("GET", RUN, 404, **ids)
    v.call("GET", RUN + "/events", 404, **ids, headers=EVENT_SOURCE)
    start = {"topicId": "heart", "language": "en"}
    first = v.call("POST", RUN + "/sessions", 201, **ids, json_body=start, headers={"Idempotency-Key": "k1"}).json()
    v.call("POST", RUN + "/sessions", 200, **ids, json_body=start, headers={"Idempotency-Key": "k1"})
    v.call("POST", RUN + "/sessions", 404, lectureId=uid("missing"), robotId=robot, json_body=start)
    v.call("POST", RUN + "/sessions", 404, **ids, json_body={"topicId": "kidneys", "language": "en"})
    v.call("POST", RUN + "/sessions", 412, **ids, json_body=start, headers=STALE)
    v.call("POST", RUN + "/sessions", 400, **ids, json_body={"topicId": "heart"})
    v.call("POST", RUN + "/sessions", 415, **ids, content=b"heart", headers=TEXT)
    v.call("GET", LECTURE, 200, lectureId=lecture)
    v.call("GET", RUN, 200, **ids, params={"limit": "1"})
    v.call("GET", RUN, 400, **ids, params={"limit": "0"})
    session = {**ids, "sessionId": first["sessionId"]}
    v.call("GET", SESSION, 200, **session)
    v.call("GET", SESSION, 404, **{**session, "sessionId": uid("missing")})
    v.call("POST", RUN + "/commands", 200, **ids, json_body={"command": "advance"})
    v.call("POST", RUN + "/commands", 200, **ids, json_body={"command": "pause"})
    v.call("POST", RUN + "/commands", 409, **ids, json_body={"command": "answer"})  # lecture.invalid_transition
    v.call("POST", RUN + "/commands", 412, **ids, json_body={"command": "resume"}, headers=STALE)
    v.call("POST", RUN + "/commands", 400, **ids, json_body={"command": "dance"})
    v.call("POST", RUN + "/commands", 404, lectureId=lecture, robotId="r2", json_body={"command": "pause"})
    v.call("POST", RUN + "/commands", 415, **ids, content=b"pause", headers=TEXT)
    v.call("DELETE", SESSION, 412, **session, headers=STALE)
    v.call("DELETE", SESSION, 200, **session)
    v.call("DELETE", SESSION, 404, **{**session, "sessionId": uid("missing")})
    v.call("GET", RUN + "/events", 400, lectureId=lecture, robotId="-bad")
    v.check()


def test_rooms_answers_conform(open_product: tuple[Product, Validator]) -> None:
    _, v = open_product
    room = uid("room")
    agents = {"agents": [{"agentId": "doc", "name": "Doctor", "persona": "A calm doctor."},
                         {"agentId": "nurse", "name": "Nurse", "persona": "A quick nurse."}]}
    v.call("GET", ROOM, 404, roomCode=room)
    v.call("PUT", PLAYER_ROUTE, 404, roomCode=room, playerId="p1")
    v.call("POST", ROOM + "/messages", 404, roomCode=room, json_body={"senderId": "p1", "text": "hi"})
    v.call("GET", ROOM + "/messages", 404, roomCode=room)
    v.call("GET", ROOM + "/events", 404, roomCode=room, headers=EVENT_SOURCE)
    v.call("PUT", ROOM, 200, roomCode=room, json_body=agents)
    v.call("PUT", ROOM, 412, roomCode=room, json_body=agents, headers=STALE)
    v.call("PUT", ROOM, 400, roomCode=room, json_body={"agents": []})
    v.call("PUT", ROOM, 415, roomCode=room, content=b"x", headers=TEXT)
    v.call("PUT", PLAYER_ROUTE, 200, roomCode=room, playerId="p1")
    v.call("PUT", PLAYER_ROUTE, 412, roomCode=room, playerId="p2", headers=STALE)
    v.call("PUT", PLAYER_ROUTE, 200, roomCode=room, playerId="p2")
    v.call("POST", ROOM + "/messages", 201, roomCode=room, json_body={"senderId": "p1", "text": "hello", "clientMessageId": "m1"})
    v.call("POST", ROOM + "/messages", 200, roomCode=room, json_body={"senderId": "p1", "text": "hello", "clientMessageId": "m1"})
    v.call("POST", ROOM + "/messages", 201, roomCode=room, json_body={"senderId": "p2", "text": "none", "agentIds": []})
    v.call("POST", ROOM + "/messages", 403, roomCode=room, json_body={"senderId": "stranger", "text": "hi"})
    v.call("POST", ROOM + "/messages", 400, roomCode=room, json_body={"senderId": "p1", "text": "hi", "agentIds": ["ghost"]})
    v.call("POST", ROOM + "/messages", 413, roomCode=room, content=TOO_BIG, headers={"Content-Type": "application/json"})
    v.call("GET", ROOM, 200, roomCode=room)  # agents responding
    # Agent messages (with inReplyTo and outcome) once both agents have replied.
    wait_until(lambda: len(httpx.get(f"{v.url}/api/rooms/{room}/messages").json()["messages"]) >= 4)
    v.call("GET", ROOM + "/messages", 200, roomCode=room, params={"after": "0", "limit": "10"})
    v.call("GET", ROOM + "/messages", 400, roomCode=room, params={"limit": "100000"})
    v.call("GET", ROOM, 200, roomCode=room)  # agents idle
    v.call("DELETE", PLAYER_ROUTE, 412, roomCode=room, playerId="p2", headers=STALE)
    v.call("DELETE", PLAYER_ROUTE, 200, roomCode=room, playerId="p2")
    v.call("DELETE", PLAYER_ROUTE, 404, roomCode=uid("missing"), playerId="p2")
    v.check()


def test_user_session_answers_conform(open_product: tuple[Product, Validator]) -> None:
    _, v = open_product
    user = uid("user")
    v.call("GET", USER_ROUTE + "/session", 404, userId=user)
    v.call("GET", USER_ROUTE + "/session", 404, userId=user, headers=EVENT_SOURCE)
    v.call("POST", USER_ROUTE + "/messages", 200, userId=user, json_body={"text": "What is a murmur?"})
    v.call("POST", USER_ROUTE + "/messages", 202, userId=user, json_body={"text": "And a thrill?"}, params={"wait": "false"})
    v.call("POST", USER_ROUTE + "/messages", 409, userId=user, json_body={"text": "Hello?"}, params={"wait": "false"})  # busy
    v.call("GET", USER_ROUTE + "/session", 200, userId=user)  # processing, with history
    v.call("POST", USER_ROUTE + "/cancel", 200, userId=user)
    v.call("POST", USER_ROUTE + "/messages", 400, userId=user, json_body={"text": ""})
    v.call("POST", USER_ROUTE + "/messages", 400, userId=user, json_body={"text": "x"}, params={"wait": "maybe"})
    v.call("POST", USER_ROUTE + "/messages", 415, userId=user, content=b"hi", headers=TEXT)
    v.call("POST", USER_ROUTE + "/messages", 413, userId=user, content=TOO_BIG, headers={"Content-Type": "application/json"})
    # A wait-mode message cancelled while it waits: 409 session.cancelled.
    wait_until(lambda: httpx.get(f"{v.url}/api/users/{user}/session").json()["status"] == "idle")
    waiting = threading.Thread(target=lambda: v.call("POST", USER_ROUTE + "/messages", 409, userId=user,
                                                     json_body={"text": "Slow one"}))
    waiting.start()
    wait_until(lambda: httpx.get(f"{v.url}/api/users/{user}/session").json()["status"] == "processing")
    v.call("POST", USER_ROUTE + "/cancel", 200, userId=user)
    waiting.join(30)
    v.call("POST", USER_ROUTE + "/clear", 200, userId=user)
    v.call("GET", USER_ROUTE + "/session", 200, userId=user)
    v.call("POST", USER_ROUTE + "/cancel", 400, userId="-bad")
    v.call("POST", USER_ROUTE + "/clear", 400, userId="-bad")
    v.call("GET", USER_ROUTE + "/events", 400, userId="-bad", headers=EVENT_SOURCE)
    v.check()


def test_event_streams_answer_text_event_stream(open_product: tuple[Product, Validator]) -> None:
    """The SSE routes' 200 cannot pass a buffering proxy; checked directly: the declared media type, an id and JSON data."""
    product, v = open_product
    job = uid("job")
    httpx.post(product.url + "/api/jobs", json={"kind": "render", "jobId": job}).raise_for_status()
    user = uid("user")
    httpx.post(product.url + f"/api/users/{user}/messages", json={"text": "hi"}, params={"wait": "false"}).raise_for_status()
    for path in (f"/api/jobs/{job}/events", f"/api/users/{user}/events"):
        template = "/api/jobs/{jobId}/events" if "jobs" in path else "/api/users/{userId}/events"
        declared = v.document["paths"][template]["get"]["responses"]["200"]["content"]
        with httpx.stream("GET", product.url + path, headers=EVENT_SOURCE, timeout=10) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].split(";")[0] in declared
            lines: list[str] = []
            for line in response.iter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    break
            assert [line.split(":")[0] for line in lines] == ["id", "event", "data"], lines
            assert isinstance(json.loads(lines[-1][len("data:"):]), dict), lines


def test_keys_and_edge_limits_answers_conform(keyed_product: tuple[Product, Validator]) -> None:
    product, v = keyed_product
    job = uid("job")
    v.call("POST", "/api/jobs", 201, key=CLIENT, json_body={"kind": "render", "jobId": job})
    v.call("GET", JOB, 401, jobId=job)
    v.call("GET", JOB, 401, key="not-a-key-of-this-product-0123456789", jobId=job)
    v.call("GET", JOB + "/events", 401, jobId=job, headers=EVENT_SOURCE)
    v.call("POST", JOB + "/start", 403, key=WORKER, jobId=job, json_body={"workerId": "w2"})
    v.call("POST", JOB + "/start", 200, key=WORKER, jobId=job, json_body={"workerId": "w1"})
    v.call("POST", "/api/jobs", 403, key=WORKER, json_body={"kind": "render"})
    v.call("GET", USER_ROUTE + "/session", 403, key=USER, userId="u2")
    v.call("POST", RUN + "/commands", 403, key=ROBOT, lectureId="l1", robotId="r2", json_body={"command": "pause"})
    room = uid("room")
    v.call("PUT", ROOM, 200, key=CLIENT, roomCode=room, json_body={"agents": [{"agentId": "a", "name": "A", "persona": "P"}]})
    v.call("GET", ROOM, 403, key=PLAYER, roomCode=room)
    v.call("POST", ROOM + "/messages", 403, key=PLAYER, roomCode=room, json_body={"senderId": "p2", "text": "hi"})
    # Stream tickets: for an events route the key may read; not for another route, not for a room the player is not in.
    v.call("POST", "/api/stream-tickets", 201, key=CLIENT, json_body={"path": f"/api/jobs/{job}/events"})
    v.call("POST", "/api/stream-tickets", 400, key=CLIENT, json_body={"path": f"/api/jobs/{job}"})
    v.call("POST", "/api/stream-tickets", 401, json_body={"path": f"/api/jobs/{job}/events"})
    v.call("POST", "/api/stream-tickets", 403, key=PLAYER, json_body={"path": f"/api/rooms/{room}/events"})

    # One open stream per key: a second one is refused with 429.
    with httpx.stream("GET", f"{product.url}/api/jobs/{job}/events", headers={"Authorization": f"Bearer {CLIENT}"}, timeout=10):
        v.call("GET", JOB + "/events", 429, key=CLIENT, jobId=job)
    # The edge limit: requests straight to the product until the key's bucket is empty, then one through the validator.
    # The bucket refills once a second; a refill that lands in between gives the request a token, and the drive repeats.
    with httpx.Client(base_url=product.url, headers={"Authorization": f"Bearer {EDGE}"}) as direct:
        for _ in range(5):
            for _ in range(500):
                if direct.get(f"/api/jobs/{job}").status_code == 429:
                    break
            if v.call("GET", JOB, 429, key=EDGE, jobId=job).status_code == 429:
                break
            v.forget_last()
    v.check()


def test_chatbot_limits_and_failures_answers_conform(keyed_product: tuple[Product, Validator]) -> None:
    _, v = keyed_product
    slow = {"text": "[slow] a long question"}
    v.call("POST", USER_ROUTE + "/messages", 202, key=USER, userId="u1", json_body=slow, params={"wait": "false"})
    v.call("POST", USER_ROUTE + "/messages", 202, key=USER, userId="u1", json_body=slow, params={"wait": "false"})  # queued
    v.call("POST", USER_ROUTE + "/messages", 429, key=USER, userId="u1", json_body=slow, params={"wait": "false"})  # queue_full
    v.call("POST", USER_ROUTE + "/messages", 429, key=USER, userId="u1", json_body=slow, params={"wait": "false"})  # rate_limited.user
    v.call("GET", USER_ROUTE + "/session", 200, key=USER, userId="u1")
    v.call("POST", USER_ROUTE + "/messages", 504, key=ADMIN, userId=uid("user"), json_body=slow)  # session.timeout
    v.call("POST", USER_ROUTE + "/messages", 502, key=ADMIN, userId=uid("user"), json_body={"text": "[fail] please"})
    v.call("POST", USER_ROUTE + "/messages", 200, key=ADMIN, userId=uid("user"), json_body={"text": "a good one"})
    v.check()


def test_storage_unavailable_answers_conform(redis_product: tuple[Product, Validator, support.RedisServer]) -> None:
    product, v, redis = redis_product
    job = uid("job")
    v.call("POST", "/api/jobs", 201, json_body={"kind": "render", "jobId": job})
    redis.stop()
    response = v.call("POST", "/api/jobs", 503, json_body={"kind": "render", "jobId": uid("job")})
    assert response.json()["code"] == "storage_unavailable"
    assert response.headers["Retry-After"]
    v.call("PUT", ROOM, 503, roomCode=uid("room"), json_body={"agents": [{"agentId": "a", "name": "A", "persona": "P"}]})
    v.check()
    # Stopping a silo whose Redis is gone takes its whole bounded stop; nothing of it is under test here.
    product.process.kill()


REFUSALS = {400, 401, 403, 404, 409, 412, 413, 415, 429}


def test_together_the_drive_covered_every_operation_and_every_refusal(request: pytest.FixtureRequest) -> None:
    selected = {item.name for item in request.session.items if item.module is request.module}
    if selected != {name for name in globals() if name.startswith("test_")}:
        pytest.skip("a check of the whole drive: run with every test of this module")
    declared = {op["operationId"] for document in DOCUMENTS for path in document["paths"].values()
                for op in path.values() if isinstance(op, dict) and "operationId" in op}
    driven = {a.operation for a in REPORT}
    assert declared <= driven, f"operations not driven: {sorted(declared - driven)}"
    statuses = {a.status for a in REPORT}
    assert REFUSALS | {503} <= statuses, f"refusals not driven: {sorted(REFUSALS - statuses)}"
