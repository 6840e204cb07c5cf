"""README's table of safe retries, against a scripted fake API: which requests are repeated, with which identity,
and that a user message is never resent blindly."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from lectures_client import (
    AsyncLecturesClient, ConflictError, LecturesClient, OutcomeUnknownError, RateLimitedError, RetryPolicy,
    ServiceUnavailableError, UserReply,
)

from .support import Drop, FakeApi, Reply, problem

FAST = RetryPolicy(max_attempts=4, backoff=0.01, max_backoff=0.05)
STORAGE_DOWN = Reply(503, problem(503, "storage_unavailable"), {"Retry-After": "0"})
UNAVAILABLE = Reply(503, problem(503, "unavailable"), {"Retry-After": "0"})
NOW = datetime.now(timezone.utc).isoformat()


def job_json(job_id: str = "j1", status: str = "processing", progress: float = 0) -> dict[str, Any]:
    return {"jobId": job_id, "kind": "k", "status": status, "progress": progress, "message": None, "workerId": "w",
            "input": None, "result": None, "error": None, "createdAt": NOW, "startedAt": NOW,
            "lastHeartbeat": NOW, "completedAt": None}


def session_json(user_id: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"userId": user_id, "status": "idle", "activeRequestId": None, "queued": 0, "history": list(entries),
            "createdAt": NOW, "lastActiveAt": NOW}


def entry(role: str, text: str, request_id: str, status: str, at: str | None = None) -> dict[str, Any]:
    return {"role": role, "text": text, "requestId": request_id, "status": status,
            "at": at or datetime.now(timezone.utc).isoformat()}


@pytest.fixture
def api(fake: FakeApi) -> Iterator[LecturesClient]:
    with LecturesClient(fake.url, retry=FAST, timeout=0.25) as c:
        yield c


# ---------------------------------------------------------------- nothing changed: every request is retried


def test_storage_unavailable_is_retried_for_any_request(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/jobs/j1/complete", STORAGE_DOWN, Reply(200, job_json(status="completed")))
    assert api.jobs.complete("j1", "w").status == "completed"
    assert len(fake.calls("POST", "/api/jobs/j1/complete")) == 2


def test_429_is_retried_after_retry_after(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/users/u1/messages",
                Reply(429, problem(429, "rate_limited.user"), {"Retry-After": "1"}),
                Reply(200, {"requestId": "r1", "reply": "hi", "status": "completed"}))
    began = time.monotonic()
    assert api.users.send_message("u1", "hello").reply == "hi"
    assert time.monotonic() - began >= 0.95
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 2


def test_retries_are_bounded_and_the_last_error_is_raised(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("GET", "/api/jobs/j1", STORAGE_DOWN)
    with pytest.raises(ServiceUnavailableError) as raised:
        api.jobs.get("j1")
    assert raised.value.code == "storage_unavailable" and raised.value.retry_after == 0
    assert len(fake.calls("GET", "/api/jobs/j1")) == FAST.max_attempts


def test_a_retry_after_beyond_the_limit_is_raised_not_waited(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/jobs", Reply(429, problem(429, "rate_limited"), {"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as raised:
        api.jobs.create("k")
    assert raised.value.retry_after == 3600 and len(fake.calls("POST", "/api/jobs")) == 1


def test_refusals_are_not_retried(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/jobs/j1/start", Reply(409, problem(409, "job.claimed", "claimed by w2")))
    with pytest.raises(ConflictError) as raised:
        api.jobs.start("j1", "w")
    assert (raised.value.status, raised.value.code, raised.value.detail) == (409, "job.claimed", "claimed by w2")
    assert len(fake.calls("POST", "/api/jobs/j1/start")) == 1


# ---------------------------------------------------------------- outcome unknown: only requests with an identity


@pytest.mark.parametrize("failure", [UNAVAILABLE, Drop(), Reply(200, {}, delay=0.6)], ids=["503", "reset", "timeout"])
def test_a_job_create_is_repeated_with_the_jobid_the_client_chose(fake: FakeApi, api: LecturesClient,
                                                                  failure: Any) -> None:
    fake.script("POST", "/api/jobs", failure, Reply(201, job_json("chosen", status="queued")))
    api.jobs.create("render", {"a": 1})
    bodies = [r.body for r in fake.calls("POST", "/api/jobs")]
    assert len(bodies) == 2 and bodies[0] == bodies[1] and bodies[0]["jobId"]


@pytest.mark.parametrize("failure", [UNAVAILABLE, Drop()], ids=["503", "reset"])
def test_identified_requests_are_repeated_after_an_unknown_outcome(fake: FakeApi, api: LecturesClient,
                                                                   failure: Any) -> None:
    run = "/api/lectures/l1/robots/r1"
    fake.script("POST", run + "/sessions", failure, Reply(201, {
        "sessionId": "s1", "lectureId": "l1", "robotId": "r1", "topicId": "t", "language": "en", "contents": ["a"],
        "timeList": [1], "isActive": True, "startedAt": NOW}))
    fake.script("POST", "/api/rooms/room1/messages", failure,
                Reply(200, {"seq": 7, "triggeredAgents": [], "skippedAgents": ["a"]}))
    fake.script("POST", "/api/jobs/j1/progress", failure, Reply(200, {"applied": True, "job": job_json()}))
    fake.script("POST", "/api/jobs/j1/start", failure, Reply(200, job_json()))
    room = {"roomCode": "room1", "players": ["p"], "agents": [], "lastSeq": 0}
    fake.script("PUT", "/api/rooms/room1/players/p", failure, Reply(200, room))
    fake.script("DELETE", "/api/rooms/room1/players/p", failure, Reply(200, room))
    fake.script("PUT", "/api/rooms/room1", failure, Reply(200, room))
    fake.script("GET", "/api/jobs/j1", failure, Reply(200, job_json()))

    api.lectures.start_session("l1", "r1", "t", "en")
    keys = [r.headers["Idempotency-Key"] for r in fake.calls("POST", run + "/sessions")]
    assert len(keys) == 2 and keys[0] == keys[1]

    posted = api.rooms.post_message("room1", "p", "hi")
    ids = [r.body["clientMessageId"] for r in fake.calls("POST", "/api/rooms/room1/messages")]
    assert ids == [posted.client_message_id] * 2 and not posted.created

    api.jobs.progress("j1", "w", 50)
    api.jobs.start("j1", "w")
    api.rooms.join("room1", "p")
    api.rooms.leave("room1", "p")
    api.rooms.put("room1", [{"agentId": "a", "name": "A", "persona": "p"}])
    api.jobs.get("j1")
    for method, path in [("POST", "/api/jobs/j1/progress"), ("POST", "/api/jobs/j1/start"),
                         ("PUT", "/api/rooms/room1/players/p"), ("DELETE", "/api/rooms/room1/players/p"),
                         ("PUT", "/api/rooms/room1"), ("GET", "/api/jobs/j1")]:
        assert len(fake.calls(method, path)) == 2, path


@pytest.mark.parametrize("failure", [UNAVAILABLE, Drop(), Reply(200, {}, delay=0.6)], ids=["503", "reset", "timeout"])
def test_requests_without_an_identity_are_not_repeated(fake: FakeApi, api: LecturesClient, failure: Any) -> None:
    calls = [
        ("POST", "/api/jobs/j1/complete", lambda: api.jobs.complete("j1", "w")),
        ("POST", "/api/jobs/j1/fail", lambda: api.jobs.fail("j1", "w", "boom")),
        ("POST", "/api/jobs/j1/heartbeat", lambda: api.jobs.heartbeat("j1", "w")),
        ("POST", "/api/jobs/j1/cancel", lambda: api.jobs.cancel("j1")),
        ("POST", "/api/lectures/l1/robots/r1/commands", lambda: api.lectures.command("l1", "r1", "advance")),
        ("DELETE", "/api/lectures/l1/robots/r1/sessions/s1", lambda: api.lectures.end_session("l1", "r1", "s1")),
        ("POST", "/api/users/u1/cancel", lambda: api.users.cancel("u1")),
        ("POST", "/api/users/u1/clear", lambda: api.users.clear("u1")),
    ]
    for method, path, call in calls:
        fake.script(method, path, failure, Reply(200, {}))
        with pytest.raises(OutcomeUnknownError):
            call()
        assert len(fake.calls(method, path)) == 1, path


def test_a_connection_never_made_is_retried_for_any_request() -> None:
    from .support import free_port
    with LecturesClient(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(max_attempts=2, backoff=0.01)) as c:
        began = time.monotonic()
        with pytest.raises(Exception) as raised:
            c.jobs.complete("j1", "w")
        assert not isinstance(raised.value, OutcomeUnknownError) and time.monotonic() - began < 5


# ---------------------------------------------------------------- a user message: read the session first


def test_a_user_message_is_not_resent_when_the_session_has_it(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/users/u1/messages", Drop())
    fake.script("GET", "/api/users/u1/session",
                Reply(200, session_json("u1", entry("user", "hello", "r9", "processing"))),
                Reply(200, session_json("u1", entry("user", "hello", "r9", "completed"),
                                        entry("assistant", "the reply", "r9", "completed"))))
    reply = api.users.send_message("u1", "hello")
    assert reply == UserReply(request_id="r9", reply="the reply", status="completed")
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 1
    assert len(fake.calls("GET", "/api/users/u1/session")) == 2


def test_a_user_message_is_resent_when_the_session_does_not_have_it(fake: FakeApi, api: LecturesClient) -> None:
    old = datetime(2020, 1, 1, tzinfo=timezone.utc).isoformat()
    fake.script("POST", "/api/users/u1/messages", UNAVAILABLE,
                Reply(202, {"requestId": "r2", "status": "processing", "position": 0}))
    # The same text sent long ago is not this message.
    fake.script("GET", "/api/users/u1/session", Reply(200, session_json("u1", entry("user", "hello", "r1",
                                                                                     "completed", old))))
    accepted = api.users.submit_message("u1", "hello")
    assert accepted.request_id == "r2"
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 2
    assert len(fake.calls("GET", "/api/users/u1/session")) == 1


def test_a_user_message_is_resent_when_there_is_no_session(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/users/u1/messages", Drop(),
                Reply(200, {"requestId": "r2", "reply": "hi", "status": "completed"}))
    fake.script("GET", "/api/users/u1/session", Reply(404, problem(404, "session.not_found")))
    assert api.users.send_message("u1", "hello").request_id == "r2"
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 2


def test_a_found_user_message_in_no_wait_mode_is_returned_as_accepted(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/users/u1/messages", Reply(200, {}, delay=0.6))
    fake.script("GET", "/api/users/u1/session", Reply(200, session_json("u1", entry("user", "hi", "r5", "queued"))))
    accepted = api.users.submit_message("u1", "hi")
    assert (accepted.request_id, accepted.status, accepted.position) == ("r5", "queued", None)
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 1


def test_a_found_user_message_that_timed_out_raises_what_wait_mode_would(fake: FakeApi, api: LecturesClient) -> None:
    fake.script("POST", "/api/users/u1/messages", UNAVAILABLE)
    fake.script("GET", "/api/users/u1/session", Reply(200, session_json("u1", entry("user", "hi", "r5", "timeout"))))
    with pytest.raises(Exception) as raised:
        api.users.send_message("u1", "hi")
    assert getattr(raised.value, "code", None) == "session.timeout" and raised.value.status == 504  # type: ignore
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 1


def test_the_async_client_follows_the_same_table(fake: FakeApi) -> None:
    fake.script("POST", "/api/jobs", Drop(), Reply(201, job_json("x", status="queued")))
    fake.script("POST", "/api/jobs/j1/complete", Drop())
    fake.script("POST", "/api/users/u1/messages", Drop())
    fake.script("GET", "/api/users/u1/session",
                Reply(200, session_json("u1", entry("user", "hello", "r9", "completed"),
                                        entry("assistant", "ok", "r9", "completed"))))

    async def scenario() -> None:
        async with AsyncLecturesClient(fake.url, retry=FAST, timeout=0.25) as c:
            await c.jobs.create("k")
            with pytest.raises(OutcomeUnknownError):
                await c.jobs.complete("j1", "w")
            assert (await c.users.send_message("u1", "hello")).reply == "ok"

    asyncio.run(scenario())
    bodies = [r.body for r in fake.calls("POST", "/api/jobs")]
    assert len(bodies) == 2 and bodies[0]["jobId"] == bodies[1]["jobId"]
    assert len(fake.calls("POST", "/api/jobs/j1/complete")) == 1
    assert len(fake.calls("POST", "/api/users/u1/messages")) == 1
