"""Live updates: the SSE parser, typed events, reconnects with Last-Event-ID, and no event yielded twice."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from lectures_client import (
    AgentDeltaEvent, AsyncLecturesClient, JobEvent, LecturesClient, NotFoundError, RoomChangedEvent,
    RoomMessageEvent, RunSessionEvent, RunStateEvent, Topic, UnknownEvent,
)
from lectures_client.models import room_event
from lectures_client.sse import LineSplitter, ResumableStream, SseParser

from .support import CuttingProxy, FakeApi, Product, Stream

NOW = "2026-01-01T00:00:00+00:00"


def message(seq: int, text: str = "hi") -> dict[str, Any]:
    return {"seq": seq, "senderId": "p", "senderKind": "player", "text": text, "inReplyTo": None, "outcome": None,
            "error": None, "at": NOW}


def frame(event: str, data: Any, id_: int | None = None) -> str:
    head = f"id: {id_}\n" if id_ is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n"


# ---------------------------------------------------------------- the parser


def test_the_parser_reads_fields_multiline_data_comments_and_retry() -> None:
    parser = SseParser()
    lines = [": keep-alive", "", "retry: 2500", "id: 7", "event: note", "data: one", "data:two", "unknown: x", ""]
    events = [e for e in (parser.feed(line) for line in lines) if e is not None]
    assert len(events) == 1
    assert (events[0].event, events[0].data, events[0].id) == ("note", "one\ntwo", "7")
    assert parser.retry == 2500


def test_lines_split_across_chunks_and_line_endings() -> None:
    splitter = LineSplitter()
    chunks = ["id: 1\r", "\nevent: a\rdata: x", "y\n\n", "data: partial"]
    lines = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert lines == ["id: 1", "event: a", "data: xy", ""]  # a last line without its ending is never returned


def test_a_resumable_stream_skips_repeats_and_deltas_do_not_move_the_resume_point() -> None:
    stream = ResumableStream(room_event, last_event_id=3)
    text = (frame("message", message(3), 3) + frame("message", message(4), 4)
            + frame("delta", {"agentId": "a", "inReplyTo": 4, "text": "par"}) + frame("message", message(4), 4))
    events = stream.feed_text(text)
    assert [type(e) for e in events] == [RoomMessageEvent, AgentDeltaEvent]
    assert stream.last_event_id == 4
    assert stream.start_connection()["Last-Event-ID"] == "4"
    assert isinstance(stream.feed_text(frame("brand_new", {"x": 1}, 5))[0], UnknownEvent)


# ---------------------------------------------------------------- reconnects, against a scripted server


def scripted_room_stream(fake: FakeApi) -> None:
    fake.script("GET", "/api/rooms/r1/events",
                Stream([frame("message", message(1), 1), frame("message", message(2), 2),
                        frame("delta", {"agentId": "a", "inReplyTo": 2, "text": "Hel"})]),  # then the stream drops
                Stream([frame("message", message(2), 2),  # a repeat the client must skip
                        frame("message", message(3), 3),
                        frame("room", {"roomCode": "r1", "players": ["p"], "agents": [], "lastSeq": 3}, 4)],
                       hold=5))


def test_a_dropped_stream_resumes_with_last_event_id_and_never_yields_twice(fake: FakeApi) -> None:
    scripted_room_stream(fake)
    with LecturesClient(fake.url) as client, client.rooms.events("r1") as events:
        seen = []
        for event in events:
            seen.append(event)
            if isinstance(event, RoomChangedEvent):
                break
        assert events.connections == 2
    assert [(type(e).__name__, e.id) for e in seen] == [
        ("RoomMessageEvent", 1), ("RoomMessageEvent", 2), ("AgentDeltaEvent", None), ("RoomMessageEvent", 3),
        ("RoomChangedEvent", 4)]
    requests = fake.calls("GET", "/api/rooms/r1/events")
    assert "Last-Event-ID" not in requests[0].headers and requests[1].headers["Last-Event-ID"] == "2"
    assert all("ticket" not in r.query for r in requests)


def test_the_async_iterator_resumes_the_same_way(fake: FakeApi) -> None:
    scripted_room_stream(fake)

    async def scenario() -> list[int | None]:
        async with AsyncLecturesClient(fake.url) as client:
            ids = []
            async with client.rooms.events("r1") as events:
                async for event in events:
                    ids.append(event.id)
                    if event.id == 4:
                        break
            return ids

    assert asyncio.run(scenario()) == [1, 2, None, 3, 4]
    assert fake.calls("GET", "/api/rooms/r1/events")[1].headers["Last-Event-ID"] == "2"


def test_close_from_another_thread_ends_a_waiting_iterator(fake: FakeApi) -> None:
    fake.script("GET", "/api/rooms/r1/events", Stream([frame("message", message(1), 1)], hold=10))
    with LecturesClient(fake.url) as client:
        events = client.rooms.events("r1")
        assert next(events).id == 1
        threading.Timer(0.3, events.close).start()
        began = time.monotonic()
        assert list(events) == []
        assert time.monotonic() - began < 5


def test_a_stream_of_a_missing_resource_raises(product: Product, client: LecturesClient, uid: str) -> None:
    with pytest.raises(NotFoundError) as raised:
        next(client.jobs.events(uid))
    assert raised.value.code == "job.not_found"


# ---------------------------------------------------------------- the real product


def test_job_events_from_the_product_resume_after_a_cut_connection(product: Product, client: LecturesClient,
                                                                   uid: str) -> None:
    proxy = CuttingProxy(product.port)
    try:
        client.jobs.create("render", job_id=uid)
        with LecturesClient(proxy.url) as watcher, watcher.jobs.events(uid) as events:
            first = next(events)
            assert isinstance(first, JobEvent) and first.job.status == "queued"
            client.jobs.start(uid, "w1")
            client.jobs.progress(uid, "w1", 20)
            seen = [first]
            while seen[-1].job.progress < 20:  # type: ignore[union-attr]
                seen.append(next(events))
            proxy.cut()  # the connection drops; these changes happen while nobody is connected
            client.jobs.progress(uid, "w1", 60)
            client.jobs.complete(uid, "w1", {"ok": True})
            while not seen[-1].job.is_terminal:  # type: ignore[union-attr]
                seen.append(next(events))
            assert events.connections >= 2
        ids = [e.id for e in seen]
        assert ids == sorted(set(ids)), ids  # each event once, in order
        assert [e.job.status for e in seen][-1] == "completed"  # type: ignore[union-attr]
        assert any(e.job.progress == 60 for e in seen if e.type == "progress")  # type: ignore[union-attr]
    finally:
        proxy.close()


def test_lecture_and_room_events_from_the_product_are_typed(product: Product, client: LecturesClient,
                                                            uid: str) -> None:
    client.lectures.put(uid, "L", [Topic("t", "T", ["a", "b"], [1, 1])])
    client.lectures.start_session(uid, "r", "t", "en")
    with client.lectures.events(uid, "r") as run_events:
        state = next(run_events)
        assert isinstance(state, RunStateEvent) and state.run.state == "presenting"
        client.lectures.command(uid, "r", "advance")
        client.lectures.start_session(uid, "r", "t", "fr")
        later = [next(run_events) for _ in range(2)]
        assert {type(e) for e in later} <= {RunStateEvent, RunSessionEvent}

    client.rooms.put(uid, [{"agentId": "a", "name": "A", "persona": "p"}])
    client.rooms.join(uid, "p")
    with client.rooms.events(uid) as room_events:
        assert isinstance(next(room_events), RoomChangedEvent)
        client.rooms.post_message(uid, "p", "hello")
        kinds = []
        for event in room_events:
            kinds.append(event.type)
            if isinstance(event, RoomMessageEvent) and event.message.sender_kind == "agent":
                break
        assert "message" in kinds and "agent" in kinds

    with client.rooms.events(uid, last_event_id=0) as replay:  # everything the room still holds, once, in order
        replayed = []
        for event in replay:
            replayed.append(event)
            if isinstance(event, RoomMessageEvent) and event.message.seq == 2:
                break
    ids = [e.id for e in replayed]
    assert ids[0] == 1 and ids == sorted(set(ids))
    assert [e.message.seq for e in replayed if isinstance(e, RoomMessageEvent)] == [1, 2]
