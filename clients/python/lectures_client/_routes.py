"""Every route of the REST contract (API.md) as a :class:`~lectures_client._core.Call`: method, path, body, whether
it may be repeated after an unknown outcome, and how its answer is parsed. The sync and async clients only send them.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import httpx

from ._core import Call, Safety, etag_of, if_match_header
from .models import (
    AgentDefinition, CancelResult, ClearResult, Job, Lecture, LectureCommand, LectureSession, MessageAccepted,
    MessagePage, PostedMessage, ProgressResult, Room, Run, Session, StreamTicket, Topic, UserReply, agents_json,
    topics_json,
)


def new_id() -> str:
    """An identity the client supplies by itself (a jobId, an Idempotency-Key, a clientMessageId)."""
    return uuid.uuid4().hex


def path(*segments: str) -> str:
    # Ids are checked by the server (^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$); quoting keeps a bad one from changing the
    # route (a "../" is sent as one segment and answered 400 or 404, never resolved).
    return "/".join(quote(s, safe="") if i % 2 else s for i, s in enumerate(segments))


def _with_etag(cls: Any) -> Any:
    return lambda r: cls.from_json(r.json(), etag_of(r))


# ---------------------------------------------------------------- lectures


def put_lecture(lecture_id: str, title: str, topics: Sequence[Topic | Mapping[str, Any]],
                if_match: str | None) -> Call[Lecture]:
    return Call("PUT", path("/api/lectures", lecture_id), _with_etag(Lecture), Safety.IDENTIFIED,
                json={"title": title, "topics": topics_json(topics)}, headers=if_match_header({}, if_match))


def get_lecture(lecture_id: str) -> Call[Lecture]:
    return Call("GET", path("/api/lectures", lecture_id), _with_etag(Lecture), Safety.READ)


def _run_path(lecture_id: str, robot_id: str) -> str:
    return path("/api/lectures", lecture_id, "robots", robot_id)


def start_session(lecture_id: str, robot_id: str, topic_id: str, language: str, idempotency_key: str | None,
                  if_match: str | None) -> Call[LectureSession]:
    headers = if_match_header({"Idempotency-Key": idempotency_key or new_id()}, if_match)
    return Call("POST", _run_path(lecture_id, robot_id) + "/sessions",
                lambda r: LectureSession.from_json(r.json(), etag_of(r), created=r.status_code == 201),
                Safety.IDENTIFIED, json={"topicId": topic_id, "language": language}, headers=headers)


def get_run(lecture_id: str, robot_id: str, limit: int | None) -> Call[Run]:
    params = {"limit": str(limit)} if limit is not None else None
    return Call("GET", _run_path(lecture_id, robot_id), _with_etag(Run), Safety.READ, params=params)


def get_session(lecture_id: str, robot_id: str, session_id: str) -> Call[LectureSession]:
    return Call("GET", path(_run_path(lecture_id, robot_id) + "/sessions", session_id), _with_etag(LectureSession),
                Safety.READ)


def end_session(lecture_id: str, robot_id: str, session_id: str, if_match: str | None) -> Call[LectureSession]:
    return Call("DELETE", path(_run_path(lecture_id, robot_id) + "/sessions", session_id),
                _with_etag(LectureSession), Safety.UNSAFE, headers=if_match_header({}, if_match))


def command(lecture_id: str, robot_id: str, name: LectureCommand, if_match: str | None) -> Call[Run]:
    return Call("POST", _run_path(lecture_id, robot_id) + "/commands", _with_etag(Run), Safety.UNSAFE,
                json={"command": name}, headers=if_match_header({}, if_match))


def run_events_path(lecture_id: str, robot_id: str) -> str:
    return _run_path(lecture_id, robot_id) + "/events"


# ---------------------------------------------------------------- rooms


def put_room(room_code: str, agents: Sequence[AgentDefinition | Mapping[str, Any]], reply_policy: str,
             if_match: str | None) -> Call[Room]:
    return Call("PUT", path("/api/rooms", room_code), _with_etag(Room), Safety.IDENTIFIED,
                json={"agents": agents_json(agents), "replyPolicy": reply_policy},
                headers=if_match_header({}, if_match))


def get_room(room_code: str) -> Call[Room]:
    return Call("GET", path("/api/rooms", room_code), _with_etag(Room), Safety.READ)


def join_room(room_code: str, player_id: str, if_match: str | None) -> Call[Room]:
    return Call("PUT", path("/api/rooms", room_code, "players", player_id), _with_etag(Room), Safety.IDENTIFIED,
                headers=if_match_header({}, if_match))


def leave_room(room_code: str, player_id: str, if_match: str | None) -> Call[Room]:
    return Call("DELETE", path("/api/rooms", room_code, "players", player_id), _with_etag(Room), Safety.IDENTIFIED,
                headers=if_match_header({}, if_match))


def post_message(room_code: str, sender_id: str, text: str, client_message_id: str | None,
                 agent_ids: Sequence[str] | None) -> Call[PostedMessage]:
    cid = client_message_id or new_id()
    body: dict[str, Any] = {"senderId": sender_id, "text": text, "clientMessageId": cid}
    if agent_ids is not None:
        body["agentIds"] = list(agent_ids)
    return Call("POST", path("/api/rooms", room_code) + "/messages",
                lambda r: PostedMessage.from_json(r.json(), cid, created=r.status_code == 201),
                Safety.IDENTIFIED, json=body)


def list_messages(room_code: str, after: int | None, limit: int | None) -> Call[MessagePage]:
    params = {k: str(v) for k, v in (("after", after), ("limit", limit)) if v is not None}
    return Call("GET", path("/api/rooms", room_code) + "/messages", lambda r: MessagePage.from_json(r.json()),
                Safety.READ, params=params or None)


def room_events_path(room_code: str) -> str:
    return path("/api/rooms", room_code) + "/events"


# ---------------------------------------------------------------- user sessions


def send_user_message(user_id: str, text: str, wait: bool,
                      timeout: httpx.Timeout | None) -> Call[UserReply | MessageAccepted]:
    def parse(r: httpx.Response) -> UserReply | MessageAccepted:
        return MessageAccepted.from_json(r.json()) if r.status_code == 202 else UserReply.from_json(r.json())

    return Call("POST", path("/api/users", user_id) + "/messages", parse, Safety.USER_MESSAGE, json={"text": text},
                params={"wait": "true" if wait else "false"}, timeout=timeout)


def cancel_user_request(user_id: str) -> Call[CancelResult]:
    return Call("POST", path("/api/users", user_id) + "/cancel", lambda r: CancelResult.from_json(r.json()),
                Safety.UNSAFE)


def clear_user_session(user_id: str) -> Call[ClearResult]:
    return Call("POST", path("/api/users", user_id) + "/clear", lambda r: ClearResult.from_json(r.json()),
                Safety.UNSAFE)


def get_user_session(user_id: str) -> Call[Session]:
    return Call("GET", path("/api/users", user_id) + "/session", lambda r: Session.from_json(r.json()), Safety.READ)


def user_events_path(user_id: str) -> str:
    return path("/api/users", user_id) + "/events"


# ---------------------------------------------------------------- jobs


def create_job(kind: str, input: Any, job_id: str | None) -> Call[Job]:
    body: dict[str, Any] = {"kind": kind, "jobId": job_id or new_id()}
    if input is not None:
        body["input"] = input
    return Call("POST", "/api/jobs", _with_etag(Job), Safety.IDENTIFIED, json=body)


def get_job(job_id: str) -> Call[Job]:
    return Call("GET", path("/api/jobs", job_id), _with_etag(Job), Safety.READ)


def start_job(job_id: str, worker_id: str, if_match: str | None) -> Call[Job]:
    return Call("POST", path("/api/jobs", job_id) + "/start", _with_etag(Job), Safety.IDENTIFIED,
                json={"workerId": worker_id}, headers=if_match_header({}, if_match))


def report_progress(job_id: str, worker_id: str, progress: float, message: str | None,
                    if_match: str | None) -> Call[ProgressResult]:
    body: dict[str, Any] = {"workerId": worker_id, "progress": progress}
    if message is not None:
        body["message"] = message
    return Call("POST", path("/api/jobs", job_id) + "/progress",
                lambda r: ProgressResult.from_json(r.json(), etag_of(r)), Safety.IDENTIFIED, json=body,
                headers=if_match_header({}, if_match))


def heartbeat(job_id: str, worker_id: str) -> Call[Job]:
    return Call("POST", path("/api/jobs", job_id) + "/heartbeat", _with_etag(Job), Safety.UNSAFE,
                json={"workerId": worker_id})


def complete_job(job_id: str, worker_id: str, result: Any, if_match: str | None) -> Call[Job]:
    body: dict[str, Any] = {"workerId": worker_id}
    if result is not None:
        body["result"] = result
    return Call("POST", path("/api/jobs", job_id) + "/complete", _with_etag(Job), Safety.UNSAFE, json=body,
                headers=if_match_header({}, if_match))


def fail_job(job_id: str, worker_id: str, error: str, if_match: str | None) -> Call[Job]:
    return Call("POST", path("/api/jobs", job_id) + "/fail", _with_etag(Job), Safety.UNSAFE,
                json={"workerId": worker_id, "error": error}, headers=if_match_header({}, if_match))


def cancel_job(job_id: str, if_match: str | None) -> Call[Job]:
    return Call("POST", path("/api/jobs", job_id) + "/cancel", _with_etag(Job), Safety.UNSAFE,
                headers=if_match_header({}, if_match))


def job_events_path(job_id: str) -> str:
    return path("/api/jobs", job_id) + "/events"


# ---------------------------------------------------------------- stream tickets and health


def create_stream_ticket(events_path: str) -> Call[StreamTicket]:
    # Not in README's table of safe retries: a ticket is only for browsers, so a lost one is simply asked for again.
    return Call("POST", "/api/stream-tickets", lambda r: StreamTicket.from_json(r.json()), Safety.UNSAFE,
                json={"path": events_path})


def health(kind: str) -> Call[dict[str, Any]]:
    return Call("GET", f"/health/{kind}", lambda r: dict(r.json()) if r.content else {}, Safety.READ)
