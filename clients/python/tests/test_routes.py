"""Every route group against the real product: typed results, and refusals raised with their problem fields."""

from __future__ import annotations

import asyncio
import time

import pytest

from lectures_client import (
    AgentDefinition, ApiError, AsyncLecturesClient, BadRequestError, ConflictError, Job, Lecture, LecturesClient,
    LectureSession, Message, NotFoundError, PreconditionFailedError, Room, Run, Session, Topic, UserReply,
)

from .support import Product

TOPICS = [Topic("intro", "Intro", ["Hello", "World", "Bye"], [1.5, 2, 3]), Topic("t2", "Two", ["x"], [1])]


def test_lectures_round_trip(client: LecturesClient, uid: str) -> None:
    lecture = client.lectures.put(uid, "Biology", TOPICS)
    assert isinstance(lecture, Lecture) and lecture.version == 1 and lecture.etag
    assert lecture.topics[0] == TOPICS[0]

    session = client.lectures.start_session(uid, "robot-1", "intro", "en")
    assert isinstance(session, LectureSession) and session.created
    assert session.contents == ["Hello", "World", "Bye"] and session.time_list == [1.5, 2.0, 3.0]
    again = client.lectures.start_session(uid, "robot-1", "intro", "en", idempotency_key="start-1")
    repeat = client.lectures.start_session(uid, "robot-1", "intro", "en", idempotency_key="start-1")
    assert not repeat.created and repeat.session_id == again.session_id != session.session_id

    run = client.lectures.get_run(uid, "robot-1", limit=10)
    assert isinstance(run, Run) and run.state == "presenting" and run.session_count == 2
    assert [s.session_id for s in run.sessions] == [session.session_id, again.session_id]
    assert client.lectures.get(uid).robots == ["robot-1"]

    run = client.lectures.command(uid, "robot-1", "advance", if_match=run.etag)
    assert run.position == 1
    assert client.lectures.command(uid, "robot-1", "pause").state == "paused"
    with pytest.raises(ConflictError) as refused:
        client.lectures.command(uid, "robot-1", "answer")
    assert refused.value.code == "lecture.invalid_transition"
    assert refused.value.problem["state"] == "paused" and refused.value.problem["command"] == "answer"

    fetched = client.lectures.get_session(uid, "robot-1", session.session_id)
    ended = client.lectures.end_session(uid, "robot-1", session.session_id, if_match=fetched.etag)
    assert not ended.is_active


def test_rooms_round_trip(client: LecturesClient, uid: str) -> None:
    room = client.rooms.put(uid, [AgentDefinition("sage", "Sage", "wise"), {"agentId": "fool", "name": "Fool",
                                                                           "persona": "silly"}])
    assert isinstance(room, Room) and [a.agent_id for a in room.agents] == ["sage", "fool"]
    assert client.rooms.join(uid, "ann").players == ["ann"]
    client.rooms.join(uid, "bob")

    posted = client.rooms.post_message(uid, "ann", "hello", agent_ids=["sage"])
    assert posted.created and posted.seq == 1 and posted.triggered_agents == ["sage"]
    repeat = client.rooms.post_message(uid, "ann", "hello", client_message_id=posted.client_message_id)
    assert not repeat.created and repeat.seq == posted.seq

    deadline = time.monotonic() + 10
    while len((page := client.rooms.messages(uid, after=0)).messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    reply = page.messages[1]
    assert isinstance(reply, Message) and reply.sender_kind == "agent" and reply.in_reply_to == 1
    assert reply.outcome == "reply" and page.trimmed_before == 1
    assert client.rooms.leave(uid, "bob").players == ["ann"]
    assert client.rooms.get(uid).last_seq == 2

    with pytest.raises(ApiError) as refused:
        client.rooms.post_message(uid, "bob", "not a player")
    assert refused.value.status == 403 and refused.value.code == "room.not_a_player"


def test_user_sessions_round_trip(client: LecturesClient, uid: str) -> None:
    reply = client.users.send_message(uid, "What is a cell?")
    assert isinstance(reply, UserReply) and reply.status == "completed" and "What is a cell?" in reply.reply

    accepted = client.users.submit_message(uid, "And a tissue?")
    assert accepted.status in ("processing", "queued") and accepted.position is not None
    with pytest.raises(ConflictError) as busy:
        client.users.submit_message(uid, "too fast")
    assert busy.value.code == "session.busy" and busy.value.problem["activeRequestId"] == accepted.request_id
    cancelled = client.users.cancel(uid)
    assert cancelled.request_id == accepted.request_id

    session = client.users.get_session(uid)
    assert isinstance(session, Session) and [e.role for e in session.history[:2]] == ["user", "assistant"]
    assert client.users.clear(uid).cleared
    assert client.users.get_session(uid).history == []


def test_jobs_round_trip(client: LecturesClient, uid: str) -> None:
    job = client.jobs.create("render", {"slides": 3}, job_id=uid)
    assert isinstance(job, Job) and job.status == "queued" and job.input == {"slides": 3}
    assert client.jobs.create("render", {"slides": 3}, job_id=uid).job_id == uid  # same content: 200

    started = client.jobs.start(uid, "w1")
    assert started.status == "processing" and started.worker_id == "w1"
    assert client.jobs.start(uid, "w1").status == "processing"  # the same worker again: 200
    with pytest.raises(ConflictError) as claimed:
        client.jobs.start(uid, "w2")
    assert (claimed.value.status, claimed.value.code) == (409, "job.claimed")

    assert client.jobs.progress(uid, "w1", 40, "slide 2").applied
    lower = client.jobs.progress(uid, "w1", 10)
    assert not lower.applied and lower.job.progress == 40
    assert client.jobs.heartbeat(uid, "w1").status == "processing"
    done = client.jobs.complete(uid, "w1", {"url": "video.mp4"})
    assert done.is_terminal and done.progress == 100 and done.result == {"url": "video.mp4"}
    with pytest.raises(ConflictError) as terminal:
        client.jobs.cancel(uid)
    assert terminal.value.code == "job.terminal"

    other = client.jobs.create("render")
    client.jobs.start(other.job_id, "w1")
    assert client.jobs.fail(other.job_id, "w1", "codec").error == "codec"
    assert client.jobs.cancel(client.jobs.create("render").job_id).status == "cancelled"


def test_refusals_carry_the_problem_document(client: LecturesClient, uid: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.jobs.get(uid)
    assert (missing.value.status, missing.value.code) == (404, "job.not_found") and missing.value.detail

    with pytest.raises(BadRequestError) as invalid:
        client.lectures.put(uid, "Bad", [Topic("t", "T", ["a", "b"], [1])])
    assert invalid.value.code == "validation"
    assert invalid.value.errors == {"topics[0].timeList": ["contents and timeList must have the same length."]}

    with pytest.raises(BadRequestError):
        client.jobs.get("not a valid id!")

    lecture = client.lectures.put(uid, "Good", TOPICS)
    client.lectures.put(uid, "Changed", TOPICS)
    with pytest.raises(PreconditionFailedError) as stale:
        client.lectures.put(uid, "Stale", TOPICS, if_match=lecture.etag)
    assert stale.value.code == "precondition_failed"


def test_operations_routes(client: LecturesClient) -> None:
    assert client.health_live()
    assert client.health_ready()["status"] == "Healthy"


def test_async_client_round_trip(product: Product, uid: str) -> None:
    async def scenario() -> None:
        async with AsyncLecturesClient(product.url) as c:
            job = await c.jobs.create("render", job_id=uid)
            await c.jobs.start(job.job_id, "w1")
            assert (await c.jobs.progress(job.job_id, "w1", 50)).job.progress == 50
            with pytest.raises(ConflictError):
                await c.jobs.start(job.job_id, "w2")
            reply = await c.users.send_message(uid, "hi")
            assert "hi" in reply.reply
            await c.lectures.put(uid, "L", TOPICS)
            session = await c.lectures.start_session(uid, "r", "t2", "de")
            assert (await c.lectures.get_session(uid, "r", session.session_id)).language == "de"
            room = await c.rooms.put(uid, [AgentDefinition("a", "A", "p")])
            assert (await c.rooms.join(room.room_code, "p1")).players == ["p1"]
            assert (await c.rooms.post_message(uid, "p1", "hey", agent_ids=[])).triggered_agents == []

    asyncio.run(scenario())
