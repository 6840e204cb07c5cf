"""Typed results of the API (dataclasses), parsed from its camelCase JSON.

Fields the server adds later are ignored, so a newer server does not break an older client. String enums (statuses,
states) stay plain strings; the ``Literal`` aliases below document their values. Resources that can be changed carry
the ``etag`` of the response they came from (pass it as ``if_match``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Mapping, Sequence

JobStatus = Literal["queued", "processing", "completed", "failed", "cancelled"]
RunState = Literal["idle", "presenting", "paused", "qna", "ended"]
LectureCommand = Literal["advance", "pause", "resume", "question", "answer", "end"]
AgentStatus = Literal["idle", "responding"]
SenderKind = Literal["player", "agent"]
RequestStatus = Literal["queued", "processing", "completed", "cancelled", "timeout", "failed"]
SessionStatus = Literal["idle", "processing"]

Json = Mapping[str, Any]


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _req_dt(value: Any) -> datetime:
    parsed = _dt(value)
    if parsed is None:
        raise ValueError(f"expected an ISO 8601 timestamp, got {value!r}")
    return parsed


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    status: JobStatus
    progress: float
    message: str | None
    worker_id: str | None
    input: Any
    result: Any
    error: str | None
    created_at: datetime
    started_at: datetime | None
    last_heartbeat: datetime | None
    completed_at: datetime | None
    etag: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    @classmethod
    def from_json(cls, j: Json, etag: str | None = None) -> Job:
        return cls(
            job_id=j["jobId"], kind=j["kind"], status=j["status"], progress=float(j["progress"]),
            message=j.get("message"), worker_id=j.get("workerId"), input=j.get("input"), result=j.get("result"),
            error=j.get("error"), created_at=_req_dt(j["createdAt"]), started_at=_dt(j.get("startedAt")),
            last_heartbeat=_dt(j.get("lastHeartbeat")), completed_at=_dt(j.get("completedAt")), etag=etag,
        )


@dataclass(frozen=True)
class ProgressResult:
    """``applied`` is false when the value was lower than the stored one (progress never goes backwards)."""

    applied: bool
    job: Job

    @classmethod
    def from_json(cls, j: Json, etag: str | None = None) -> ProgressResult:
        return cls(applied=bool(j["applied"]), job=Job.from_json(j["job"], etag))


# ---------------------------------------------------------------- lectures


@dataclass(frozen=True)
class Topic:
    topic_id: str
    title: str
    contents: list[str]
    time_list: list[float]

    def to_json(self) -> dict[str, Any]:
        return {"topicId": self.topic_id, "title": self.title, "contents": list(self.contents),
                "timeList": list(self.time_list)}

    @classmethod
    def from_json(cls, j: Json) -> Topic:
        return cls(topic_id=j["topicId"], title=j.get("title") or j["topicId"], contents=list(j["contents"]),
                   time_list=[float(t) for t in j["timeList"]])


@dataclass(frozen=True)
class Lecture:
    """A lecture definition; ``robots`` (the robots that have runs) is filled by ``get``, empty after ``put``."""

    lecture_id: str
    title: str
    topics: list[Topic]
    version: int
    robots: list[str] = field(default_factory=list)
    etag: str | None = None

    @classmethod
    def from_json(cls, j: Json, etag: str | None = None) -> Lecture:
        return cls(lecture_id=j["lectureId"], title=j["title"], topics=[Topic.from_json(t) for t in j["topics"]],
                   version=int(j["version"]), robots=list(j.get("robots") or []), etag=etag)


@dataclass(frozen=True)
class LectureSessionSummary:
    session_id: str
    lecture_id: str
    robot_id: str
    topic_id: str
    language: str
    is_active: bool
    started_at: datetime

    @classmethod
    def from_json(cls, j: Json) -> LectureSessionSummary:
        return cls(session_id=j["sessionId"], lecture_id=j["lectureId"], robot_id=j["robotId"], topic_id=j["topicId"],
                   language=j["language"], is_active=bool(j["isActive"]), started_at=_req_dt(j["startedAt"]))


@dataclass(frozen=True)
class LectureSession:
    """A session with its own snapshot of the topic's contents and time list."""

    session_id: str
    lecture_id: str
    robot_id: str
    topic_id: str
    language: str
    contents: list[str]
    time_list: list[float]
    is_active: bool
    started_at: datetime
    etag: str | None = None
    created: bool = True
    """False when a repeated ``Idempotency-Key`` answered 200 with the session started before."""

    @classmethod
    def from_json(cls, j: Json, etag: str | None = None, created: bool = True) -> LectureSession:
        return cls(session_id=j["sessionId"], lecture_id=j["lectureId"], robot_id=j["robotId"], topic_id=j["topicId"],
                   language=j["language"], contents=list(j["contents"]), time_list=[float(t) for t in j["timeList"]],
                   is_active=bool(j["isActive"]), started_at=_req_dt(j["startedAt"]), etag=etag, created=created)


@dataclass(frozen=True)
class Run:
    """The run of one robot on one lecture: its state machine and its latest session summaries."""

    lecture_id: str
    robot_id: str
    state: RunState
    topic_id: str | None
    position: int
    session_count: int
    sessions: list[LectureSessionSummary]
    etag: str | None = None

    @classmethod
    def from_json(cls, j: Json, etag: str | None = None) -> Run:
        return cls(lecture_id=j["lectureId"], robot_id=j["robotId"], state=j["state"], topic_id=j.get("topicId"),
                   position=int(j["position"]), session_count=int(j["sessionCount"]),
                   sessions=[LectureSessionSummary.from_json(s) for s in j.get("sessions") or []], etag=etag)


# ---------------------------------------------------------------- rooms


@dataclass(frozen=True)
class AgentDefinition:
    """An agent as given to ``rooms.put``."""

    agent_id: str
    name: str
    persona: str

    def to_json(self) -> dict[str, Any]:
        return {"agentId": self.agent_id, "name": self.name, "persona": self.persona}


@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    status: AgentStatus
    responding_to: int | None

    @classmethod
    def from_json(cls, j: Json) -> Agent:
        return cls(agent_id=j["agentId"], name=j["name"], status=j["status"],
                   responding_to=_opt_int(j.get("respondingTo")))


@dataclass(frozen=True)
class Room:
    room_code: str
    players: list[str]
    agents: list[Agent]
    last_seq: int
    reply_policy: str = "all"
    etag: str | None = None

    @classmethod
    def from_json(cls, j: Json, etag: str | None = None) -> Room:
        return cls(room_code=j["roomCode"], players=list(j["players"]), agents=[Agent.from_json(a) for a in j["agents"]],
                   last_seq=int(j["lastSeq"]), reply_policy=j.get("replyPolicy") or "all", etag=etag)


@dataclass(frozen=True)
class PostedMessage:
    """The answer to a room message. ``created`` is false when a repeated ``clientMessageId`` answered 200."""

    seq: int
    triggered_agents: list[str]
    skipped_agents: list[str]
    client_message_id: str
    created: bool = True

    @classmethod
    def from_json(cls, j: Json, client_message_id: str, created: bool) -> PostedMessage:
        return cls(seq=int(j["seq"]), triggered_agents=list(j["triggeredAgents"]),
                   skipped_agents=list(j["skippedAgents"]), client_message_id=client_message_id, created=created)


@dataclass(frozen=True)
class Message:
    """A room message. ``in_reply_to``, ``outcome`` (``reply``/``failed``) and ``error`` are set on agent messages."""

    seq: int
    sender_id: str
    sender_kind: SenderKind
    text: str
    in_reply_to: int | None
    outcome: str | None
    error: str | None
    at: datetime

    @classmethod
    def from_json(cls, j: Json) -> Message:
        return cls(seq=int(j["seq"]), sender_id=j["senderId"], sender_kind=j["senderKind"], text=j["text"],
                   in_reply_to=_opt_int(j.get("inReplyTo")), outcome=j.get("outcome"), error=j.get("error"),
                   at=_req_dt(j["at"]))


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    trimmed_before: int
    """The lowest seq the room still keeps."""

    @classmethod
    def from_json(cls, j: Json) -> MessagePage:
        return cls(messages=[Message.from_json(m) for m in j["messages"]], trimmed_before=int(j["trimmedBefore"]))


# ---------------------------------------------------------------- user sessions


@dataclass(frozen=True)
class UserReply:
    """A wait-mode message's answer."""

    request_id: str
    reply: str
    status: RequestStatus = "completed"

    @classmethod
    def from_json(cls, j: Json) -> UserReply:
        return cls(request_id=j["requestId"], reply=j["reply"], status=j.get("status") or "completed")


@dataclass(frozen=True)
class MessageAccepted:
    """A no-wait message's answer (202). ``position`` is None when the request was found by reading the session."""

    request_id: str
    status: RequestStatus
    position: int | None

    @classmethod
    def from_json(cls, j: Json) -> MessageAccepted:
        return cls(request_id=j["requestId"], status=j["status"], position=_opt_int(j.get("position")))


@dataclass(frozen=True)
class CancelResult:
    cancelled: bool
    request_id: str | None

    @classmethod
    def from_json(cls, j: Json) -> CancelResult:
        return cls(cancelled=bool(j["cancelled"]), request_id=j.get("requestId"))


@dataclass(frozen=True)
class ClearResult:
    cancelled: bool
    cleared: bool

    @classmethod
    def from_json(cls, j: Json) -> ClearResult:
        return cls(cancelled=bool(j["cancelled"]), cleared=bool(j["cleared"]))


@dataclass(frozen=True)
class HistoryEntry:
    """A user entry's ``status`` is its request's; an assistant entry (the reply) is ``completed``."""

    role: Literal["user", "assistant"]
    text: str
    request_id: str
    status: RequestStatus
    at: datetime

    @classmethod
    def from_json(cls, j: Json) -> HistoryEntry:
        return cls(role=j["role"], text=j["text"], request_id=j["requestId"], status=j["status"], at=_req_dt(j["at"]))


@dataclass(frozen=True)
class Session:
    """A chatbot user's session."""

    user_id: str
    status: SessionStatus
    active_request_id: str | None
    queued: int
    history: list[HistoryEntry]
    created_at: datetime
    last_active_at: datetime

    @classmethod
    def from_json(cls, j: Json) -> Session:
        return cls(user_id=j["userId"], status=j["status"], active_request_id=j.get("activeRequestId"),
                   queued=int(j.get("queued") or 0), history=[HistoryEntry.from_json(e) for e in j["history"]],
                   created_at=_req_dt(j["createdAt"]), last_active_at=_req_dt(j["lastActiveAt"]))


# ---------------------------------------------------------------- stream tickets


@dataclass(frozen=True)
class StreamTicket:
    ticket: str
    url: str
    expires_at: datetime

    @classmethod
    def from_json(cls, j: Json) -> StreamTicket:
        return cls(ticket=j["ticket"], url=j["url"], expires_at=_req_dt(j["expiresAt"]))


# ---------------------------------------------------------------- live events
#
# Every event has ``type`` (the SSE ``event:``) and ``id`` (the SSE ``id:``; None for ``delta`` hints, which are
# never stored or replayed).


@dataclass(frozen=True)
class JobEvent:
    """``progress`` or ``status``: the job as it is after the change."""

    type: str
    id: int | None
    job: Job


@dataclass(frozen=True)
class RunStateEvent:
    """``state``: the run with its latest session summaries."""

    id: int | None
    run: Run
    type: str = "state"


@dataclass(frozen=True)
class RunSessionEvent:
    """``session``: a session of the run started or ended (a summary)."""

    id: int | None
    session: LectureSessionSummary
    type: str = "session"


@dataclass(frozen=True)
class RoomMessageEvent:
    """``message``: a player's or an agent's message."""

    id: int | None
    message: Message
    type: str = "message"


@dataclass(frozen=True)
class AgentStatusEvent:
    """``agent``: an agent's status changed."""

    id: int | None
    agent: Agent
    type: str = "agent"


@dataclass(frozen=True)
class AgentFailedEvent:
    """``agent_failed``: the failed agent message (``outcome: failed``, ``error`` set)."""

    id: int | None
    message: Message
    type: str = "agent_failed"


@dataclass(frozen=True)
class RoomChangedEvent:
    """``room``: players or agents changed; after a resume the current ones, or a snapshot when the gap since
    ``Last-Event-ID`` is no longer held (then read ``rooms.messages(after=your last seq)``)."""

    id: int | None
    room: Room
    type: str = "room"


@dataclass(frozen=True)
class AgentDeltaEvent:
    """``delta``: reply text of an agent while it is generated (a hint: no id, never replayed)."""

    agent_id: str
    in_reply_to: int | None
    text: str
    id: None = None
    type: str = "delta"


@dataclass(frozen=True)
class UserSessionEvent:
    """``reply`` or ``status`` of a chatbot session: the request it is about, the reply (``reply`` events), and the
    session's status after it."""

    type: str
    id: int | None
    request_id: str | None
    status: RequestStatus | None
    reply: str | None
    session_status: SessionStatus
    active_request_id: str | None
    queued: int
    at: datetime | None


@dataclass(frozen=True)
class UserDeltaEvent:
    """``delta``: reply text while it is generated (a hint: no id, never replayed)."""

    request_id: str | None
    text: str
    id: None = None
    type: str = "delta"


@dataclass(frozen=True)
class UnknownEvent:
    """An event type this client does not know (a newer server); ``data`` is the parsed JSON (or the raw text)."""

    type: str
    id: int | None
    data: Any


JobStreamEvent = JobEvent | UnknownEvent
RunStreamEvent = RunStateEvent | RunSessionEvent | UnknownEvent
RoomStreamEvent = (RoomMessageEvent | AgentStatusEvent | AgentFailedEvent | RoomChangedEvent | AgentDeltaEvent
                   | UnknownEvent)
UserStreamEvent = UserSessionEvent | UserDeltaEvent | UnknownEvent


def job_event(type_: str, id_: int | None, data: Any) -> JobStreamEvent:
    if type_ in ("progress", "status") and isinstance(data, Mapping):
        return JobEvent(type=type_, id=id_, job=Job.from_json(data))
    return UnknownEvent(type_, id_, data)


def run_event(type_: str, id_: int | None, data: Any) -> RunStreamEvent:
    if isinstance(data, Mapping):
        if type_ == "state":
            return RunStateEvent(id=id_, run=Run.from_json(data))
        if type_ == "session":
            return RunSessionEvent(id=id_, session=LectureSessionSummary.from_json(data))
    return UnknownEvent(type_, id_, data)


def room_event(type_: str, id_: int | None, data: Any) -> RoomStreamEvent:
    if isinstance(data, Mapping):
        if type_ == "message":
            return RoomMessageEvent(id=id_, message=Message.from_json(data))
        if type_ == "agent":
            return AgentStatusEvent(id=id_, agent=Agent.from_json(data))
        if type_ == "agent_failed":
            return AgentFailedEvent(id=id_, message=Message.from_json(data))
        if type_ == "room":
            return RoomChangedEvent(id=id_, room=Room.from_json(data))
        if type_ == "delta":
            return AgentDeltaEvent(agent_id=data["agentId"], in_reply_to=_opt_int(data.get("inReplyTo")),
                                   text=data.get("text") or "")
    return UnknownEvent(type_, id_, data)


def user_event(type_: str, id_: int | None, data: Any) -> UserStreamEvent:
    if isinstance(data, Mapping):
        if type_ in ("reply", "status"):
            return UserSessionEvent(
                type=type_, id=id_, request_id=data.get("requestId"), status=data.get("status"),
                reply=data.get("reply"), session_status=data.get("sessionStatus") or "idle",
                active_request_id=data.get("activeRequestId"), queued=int(data.get("queued") or 0),
                at=_dt(data.get("at")),
            )
        if type_ == "delta":
            return UserDeltaEvent(request_id=data.get("requestId"), text=data.get("text") or "")
    return UnknownEvent(type_, id_, data)


def topics_json(topics: Sequence[Topic | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [t.to_json() if isinstance(t, Topic) else dict(t) for t in topics]


def agents_json(agents: Sequence[AgentDefinition | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [a.to_json() if isinstance(a, AgentDefinition) else dict(a) for a in agents]


__all__ = [
    "Job",
    "ProgressResult",
    "Topic",
    "Lecture",
    "LectureSessionSummary",
    "LectureSession",
    "Run",
    "AgentDefinition",
    "Agent",
    "Room",
    "PostedMessage",
    "Message",
    "MessagePage",
    "UserReply",
    "MessageAccepted",
    "CancelResult",
    "ClearResult",
    "HistoryEntry",
    "Session",
    "StreamTicket",
    "JobEvent",
    "RunStateEvent",
    "RunSessionEvent",
    "RoomMessageEvent",
    "AgentStatusEvent",
    "AgentFailedEvent",
    "RoomChangedEvent",
    "AgentDeltaEvent",
    "UserSessionEvent",
    "UserDeltaEvent",
    "UnknownEvent",
    "JobStatus",
    "RunState",
    "LectureCommand",
    "AgentStatus",
    "SenderKind",
    "RequestStatus",
    "SessionStatus",
    "JobStreamEvent",
    "RunStreamEvent",
    "RoomStreamEvent",
    "UserStreamEvent",
]
