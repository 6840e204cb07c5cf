"""Server-Sent Events: a line parser shared by the sync and async clients, and the de-duplication of a resumable stream.

The parser follows the WHATWG event-stream rules that matter here: ``event:``, ``id:``, ``data:`` (several data lines
are joined with ``\\n``), ``retry:`` (milliseconds), comment lines starting with ``:`` (the server's keep-alives),
one optional space after the colon, and a blank line that ends an event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

E = TypeVar("E")


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None
    """This event's own ``id:`` field; None when it has none (``delta`` hints)."""
    retry: int | None = None


class SseParser:
    """Feed it lines (without their line ending); it returns a :class:`ServerSentEvent` when a blank line ends one."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_fields = False
        self.retry: int | None = None
        """The latest ``retry:`` the server asked for, in milliseconds."""

    def feed(self, line: str) -> ServerSentEvent | None:
        if line.startswith("\ufeff"):
            line = line[1:]
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self.retry = int(value)
            return None
        else:
            return None  # unknown fields are ignored
        self._has_fields = True
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._has_fields:
            return None
        event = ServerSentEvent(event=self._event or "message", data="\n".join(self._data), id=self._id,
                                retry=self.retry)
        self._event, self._data, self._id, self._has_fields = "", [], None, False
        # The spec dispatches nothing when the data buffer is empty; an event with an id but no data still moves the
        # last event id, so it is returned and the caller decides.
        return event


_LINE_END = re.compile(r"\r\n|\r|\n")


class LineSplitter:
    """Splits decoded text chunks into lines at ``\r\n``, ``\r`` or ``\n``, also when a line ending is split
    between chunks. A last line without its ending (a dropped connection) is never returned."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        data = self._buffer + text
        # A "\r" that ends the chunk may be the first half of "\r\n": keep it until the next chunk says.
        held = "\r" if data.endswith("\r") else ""
        parts = _LINE_END.split(data[:-1] if held else data)
        self._buffer = parts.pop() + held
        return parts


class ResumableStream(Generic[E]):
    """What a live-update iterator keeps across reconnects: the last event id it yielded, and the rule that no event
    is yielded twice (ids only increase per stream, so an id at or below the last one is a repeat)."""

    def __init__(self, factory: Callable[[str, int | None, Any], E], last_event_id: int | None = None) -> None:
        self._factory = factory
        self._parser = SseParser()
        self._lines = LineSplitter()
        self.last_event_id = last_event_id

    def start_connection(self) -> dict[str, str]:
        """A fresh parser for a new connection, and the headers that resume where the last one ended."""
        self._parser = SseParser()
        self._lines = LineSplitter()
        # problem+json too: the product answers a refusal of a stream (404, 401) with an empty 500 when the client
        # accepts only text/event-stream.
        headers = {"Accept": "text/event-stream, application/problem+json", "Cache-Control": "no-cache"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        return headers

    @property
    def retry_ms(self) -> int | None:
        return self._parser.retry

    def feed_text(self, text: str) -> list[E]:
        """The typed events to yield for a chunk of the response."""
        events = []
        for line in self._lines.feed(text):
            event = self.feed(line)
            if event is not None:
                events.append(event)
        return events

    def feed(self, line: str) -> E | None:
        """The typed event to yield for this line, or None (no complete event yet, a keep-alive, or a repeat)."""
        raw = self._parser.feed(line)
        if raw is None:
            return None
        event_id = _parse_id(raw.id)
        if event_id is not None:
            # delta hints carry no id and never move Last-Event-ID; any other event is yielded once.
            if self.last_event_id is not None and event_id <= self.last_event_id:
                return None
            self.last_event_id = event_id
        if raw.data == "" and raw.id is not None and raw.event == "message":
            return None  # an id-only frame: it moved the resume point, nothing to yield
        return self._factory(raw.event, event_id, _parse_data(raw.data))


def _parse_id(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _parse_data(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data
