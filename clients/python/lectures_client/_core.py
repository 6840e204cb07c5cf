"""What the sync and async clients share: request descriptions, the retry rules, problem documents.

The retry rules are README's table "Which answers are safe to retry" (section "What each failure looks like to
clients"), implemented exactly:

- 503 ``storage_unavailable``: nothing was changed. Every request is retried after ``Retry-After``.
- 429 (``rate_limited.*``, ``session.queue_full``): every request is retried after ``Retry-After``.
- 503 ``unavailable``, a timeout, or a connection reset with no answer: the outcome is unknown. Only requests that
  carry their own identity are repeated (:attr:`Safety.IDENTIFIED`): ``POST /api/jobs`` with a ``jobId``, ``start``
  by the same worker, ``progress``, a session start with the same ``Idempotency-Key``, a room message with the same
  ``clientMessageId``, player joins and leaves, lecture and room ``PUT``s; and reads (``GET`` changes nothing).
  The client supplies those identities itself when the caller does not. ``complete``, ``fail``, ``heartbeat``,
  job ``cancel``, lecture commands, session ends, user ``cancel``/``clear`` are not in the table: they raise
  :class:`~lectures_client.errors.OutcomeUnknownError` and the caller reads the resource.
- A user message has no client id: after an unknown outcome the client reads ``GET /api/users/{userId}/session``
  and sends it again only when it is not there (:attr:`Safety.USER_MESSAGE`).
- 4xx refusals (400, 404, 409, 412) are never retried: the same request gets the same answer.

A connection that could not be made (refused, connect timeout) sent nothing, so it is retried like
``storage_unavailable``.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Generic, Mapping, TypeVar

import httpx

from .errors import ApiError, error_class
from .models import HistoryEntry, Session, UserReply

T = TypeVar("T")

USER_AGENT = "lectures-client-python/0.1"


class Safety(enum.Enum):
    """May this request be sent again when its outcome is unknown?"""

    READ = "read"
    IDENTIFIED = "identified"
    UNSAFE = "unsafe"
    USER_MESSAGE = "user_message"

    @property
    def repeatable_after_unknown_outcome(self) -> bool:
        return self in (Safety.READ, Safety.IDENTIFIED)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff; ``Retry-After`` (seconds) wins when the server sends it.

    ``max_attempts`` counts the first one. A ``Retry-After`` longer than ``max_retry_after`` is not waited for: the
    error is raised with its ``retry_after`` so the caller can decide.
    """

    max_attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 60.0

    def backoff_delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.0)


NO_RETRIES = RetryPolicy(max_attempts=1)


@dataclass
class Call(Generic[T]):
    """One API request: what to send, whether it may be repeated, and how its answer becomes a typed result."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    safety: Safety
    json: Any = None
    params: Mapping[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout | None = None


class Verdict(enum.Enum):
    RETRY = "retry"
    RAISE = "raise"
    UNKNOWN = "unknown"
    """The outcome is unknown and the request may not be repeated blindly."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0


def problem_error(response: httpx.Response, method: str, path: str, after_unknown_outcome: bool = False) -> ApiError:
    """The :class:`ApiError` for an error answer, from its problem document (or from the status alone)."""
    problem: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    status = response.status_code
    code = problem.get("code")
    if not isinstance(code, str):
        code = _default_code(status)
    errors = problem.get("errors")
    return error_class(status)(
        status, code, problem.get("detail") or (response.text[:200] if not problem else None),
        title=problem.get("title"),
        errors={k: list(v) if isinstance(v, list) else [str(v)] for k, v in errors.items()}
        if isinstance(errors, dict) else None,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        problem=problem, method=method, path=path, after_unknown_outcome=after_unknown_outcome,
    )


def _default_code(status: int) -> str:
    # A 503 without a problem document did not come from the product's exception handler (a proxy, an edge timeout):
    # nothing says whether the change was made, so it is treated as "unavailable".
    return {400: "validation", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
            412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
            429: "rate_limited", 503: "unavailable"}.get(status, "error")


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def decide_on_error(policy: RetryPolicy, safety: Safety, attempt: int, error: ApiError) -> Decision:
    """What to do with an error answer on attempt ``attempt`` (1-based)."""
    retryable = (error.status == 503 and error.code == "storage_unavailable") or error.status == 429
    if error.outcome_unknown:
        if not safety.repeatable_after_unknown_outcome:
            return Decision(Verdict.UNKNOWN)
        retryable = True
    if not retryable or attempt >= policy.max_attempts:
        return Decision(Verdict.RAISE)
    if error.retry_after is not None:
        if error.retry_after > policy.max_retry_after:
            return Decision(Verdict.RAISE)
        return Decision(Verdict.RETRY, error.retry_after)
    return Decision(Verdict.RETRY, policy.backoff_delay(attempt))


def is_not_sent(exc: httpx.HTTPError) -> bool:
    """The connection was never made, so the request never reached the server."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def decide_on_transport_error(policy: RetryPolicy, safety: Safety, attempt: int, exc: httpx.HTTPError) -> Decision:
    """What to do when no answer came: a timeout, a reset, a dropped connection."""
    if is_not_sent(exc) or safety.repeatable_after_unknown_outcome:
        if attempt >= policy.max_attempts:
            return Decision(Verdict.RAISE)
        return Decision(Verdict.RETRY, policy.backoff_delay(attempt))
    return Decision(Verdict.UNKNOWN)


def etag_of(response: httpx.Response) -> str | None:
    return response.headers.get("ETag")


def if_match_header(headers: dict[str, str], if_match: str | None) -> dict[str, str]:
    if if_match is not None:
        headers["If-Match"] = if_match
    return headers


# ---------------------------------------------------------------- user messages after an unknown outcome


def find_sent_message(session: Session, text: str, not_before: datetime) -> HistoryEntry | None:
    """The user entry a message whose outcome is unknown would have made: the latest with its text, no older than
    the send (less the allowed clock difference)."""
    for entry in reversed(session.history):
        if entry.role == "user" and entry.text == text and entry.at >= not_before:
            return entry
    return None


def sent_message_outcome(session: Session, request_id: str, user_id: str) -> UserReply | ApiError | None:
    """A found request's end as wait mode would have answered it, or None while it is queued or processing."""
    entry = next((e for e in session.history if e.role == "user" and e.request_id == request_id), None)
    if entry is None:
        # Gone from the history: the session was cleared (or expired) meanwhile, as wait mode says with 409.
        return _synthetic(409, "session.cancelled", "The session was cleared before the reply.", user_id, request_id)
    if entry.status == "completed":
        reply = next((e.text for e in session.history if e.role == "assistant" and e.request_id == request_id), "")
        return UserReply(request_id=request_id, reply=reply, status="completed")
    if entry.status == "timeout":
        return _synthetic(504, "session.timeout", "The reply took longer than Sessions:ResponseTimeout.", user_id,
                          request_id)
    if entry.status == "failed":
        return _synthetic(502, "session.responder_failed", "The responder failed to produce a reply.", user_id,
                          request_id)
    if entry.status == "cancelled":
        return _synthetic(409, "session.cancelled", "The request was cancelled before the reply.", user_id, request_id)
    return None


def _synthetic(status: int, code: str, detail: str, user_id: str, request_id: str) -> ApiError:
    # The answer wait mode would have given, read from the session after the first answer was lost.
    return error_class(status)(status, code, detail, problem={"code": code, "requestId": request_id},
                               method="POST", path=f"/api/users/{user_id}/messages", after_unknown_outcome=True)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def clock_allowance(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
