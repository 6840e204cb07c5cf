"""Redis mode: a room's live updates survive a restart of the API silo. The iterator reconnects by itself with
Last-Event-ID and yields every message once, in order: those before the restart, and those after it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from lectures_client import LecturesClient, RetryPolicy, RoomMessageEvent, RoomStreamEvent

from .support import Product, RedisServer


@pytest.fixture
def redis_product(tmp_path: Path) -> Iterator[Product]:
    redis = RedisServer(tmp_path)
    product = Product(tmp_path / "product.log", {"ConnectionStrings__Redis": redis.address})
    try:
        product.wait_ready()
        yield product
    finally:
        product.stop()
        redis.stop()


def test_room_events_resume_through_a_restart_of_the_api_silo_each_message_once(redis_product: Product, uid: str) -> None:
    # Patient enough to outlive a restart: the silo stops, starts and rejoins the cluster in a few seconds.
    patient = RetryPolicy(max_attempts=30, backoff=0.2, max_backoff=1.0)
    with LecturesClient(redis_product.url, retry=patient) as api:
        api.rooms.put(uid, [{"agentId": "a", "name": "A", "persona": "p"}])
        api.rooms.join(uid, "ann")
        seen: list[RoomStreamEvent] = []
        stream = api.rooms.events(uid)

        def watch() -> None:
            for event in stream:
                seen.append(event)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        def seqs() -> list[int]:
            return [e.message.seq for e in list(seen) if isinstance(e, RoomMessageEvent)]

        def wait_for(seq: int) -> None:
            deadline = time.monotonic() + 60
            while seq not in seqs():
                assert time.monotonic() < deadline, f"seq {seq} not seen; seen {seqs()}"
                assert watcher.is_alive(), f"the stream ended: seen {seqs()}"
                time.sleep(0.05)

        try:
            deadline = time.monotonic() + 30
            while not seen:  # connected: the first event is the room as it is
                assert time.monotonic() < deadline and watcher.is_alive(), "the stream did not start"
                time.sleep(0.05)
            for n in range(1, 4):
                api.rooms.post_message(uid, "ann", f"before {n}", agent_ids=[])
            wait_for(3)
            connections = stream.connections

            redis_product.restart()
            for n in range(4, 7):
                api.rooms.post_message(uid, "ann", f"after {n}", agent_ids=[])
            wait_for(6)
        finally:
            stream.close()
            watcher.join(10)

    assert seqs() == [1, 2, 3, 4, 5, 6]
    ids = [e.id for e in seen if e.id is not None]
    assert ids == sorted(set(ids)), ids  # each event once, ids only increasing across the restart
    assert stream.connections > connections
