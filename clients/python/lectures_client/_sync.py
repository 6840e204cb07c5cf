"""The synchronous client."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, Iterator, Mapping, Sequence, TypeVar

import httpx

from . import _routes as routes
from ._core import (
    USER_AGENT, Call, RetryPolicy, Safety, Verdict, clock_allowance, decide_on_error, decide_on_transport_error,
    find_sent_message, problem_error, sent_message_outcome, utc_now,
)
from .errors import ApiError, NotFoundError, OutcomeUnknownError
from .models import (
    AgentDefinition, CancelResult, ClearResult, Job, JobStreamEvent, Lecture, LectureCommand, LectureSession,
    MessageAccepted, MessagePage, PostedMessage, ProgressResult, Room, RoomStreamEvent, Run, RunStreamEvent, Session,
    StreamTicket, Topic, UserReply, UserStreamEvent, job_event, room_event, run_event, user_event,
)
from .sse import ResumableStream

T = TypeVar("T")
E = TypeVar("E")


class LecturesClient:
    """Synchronous client of the lectures backend.

    ``timeout`` applies to ordinary requests; a wait-mode user message gets ``wait_timeout`` to read its answer (the
    server gives it ``(Sessions:MaxQueue + 1) x Sessions:ResponseTimeout + 15 s``: 195 s with the defaults). Live
    update streams read with ``stream_read_timeout`` (the server sends a keep-alive every 15 s) and reconnect when it
    passes. ``user_message_clock_skew`` is how far the server's clock may be behind this machine's when a user
    message whose outcome is unknown is looked for in the session.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        wait_timeout: float = 195.0,
        stream_read_timeout: float = 45.0,
        retry: RetryPolicy = RetryPolicy(),
        user_message_clock_skew: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=self._timeout,
                                  transport=transport)
        self._wait_timeout = httpx.Timeout(self._timeout.connect or 10.0, read=wait_timeout,
                                           write=self._timeout.write, pool=self._timeout.pool)
        self._stream_timeout = httpx.Timeout(self._timeout.connect or 10.0, read=stream_read_timeout,
                                             write=self._timeout.write, pool=self._timeout.pool)
        self._wait_seconds = wait_timeout
        self.retry = retry
        self._clock_skew = clock_allowance(user_message_clock_skew)
        self.lectures = Lectures(self)
        self.rooms = Rooms(self)
        self.users = Users(self)
        self.jobs = Jobs(self)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LecturesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ operations

    def health_live(self) -> dict[str, Any]:
        return self._send(routes.health("live"))

    def health_ready(self) -> dict[str, Any]:
        """The readiness document; raises :class:`ServiceUnavailableError` (503) when not ready."""
        return self._send(routes.health("ready"))

    def create_stream_ticket(self, events_path: str) -> StreamTicket:
        """A ticket a browser's ``EventSource`` puts in ``?ticket=`` (this client sends its key header instead)."""
        return self._send(routes.create_stream_ticket(events_path))

    # ------------------------------------------------------------ sending

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        after_unknown = False
        while True:
            attempt += 1
            try:
                response = self._http.request(call.method, call.path, json=call.json, params=call.params,
                                              headers=call.headers,
                                              timeout=call.timeout if call.timeout is not None else self._timeout)
            except httpx.TransportError as exc:
                decision = decide_on_transport_error(self.retry, call.safety, attempt, exc)
                if decision.verdict is Verdict.RETRY:
                    after_unknown = True
                    time.sleep(decision.delay)
                    continue
                if decision.verdict is Verdict.UNKNOWN:
                    raise OutcomeUnknownError(call.method, call.path, type(exc).__name__) from exc
                raise
            if response.is_success:
                return call.parse(response)
            error = problem_error(response, call.method, call.path, after_unknown)
            decision = decide_on_error(self.retry, call.safety, attempt, error)
            if decision.verdict is Verdict.RETRY:
                after_unknown = after_unknown or error.outcome_unknown
                time.sleep(decision.delay)
                continue
            if decision.verdict is Verdict.UNKNOWN:
                raise OutcomeUnknownError(call.method, call.path, f"{error.status} {error.code}") from error
            raise error

    def _send_user_message(self, user_id: str, text: str, wait: bool) -> UserReply | MessageAccepted:
        """A user message has no client id: after an unknown outcome the session is read, and the message is sent
        again only when it is not there (README, "Which answers are safe to retry")."""
        call = routes.send_user_message(user_id, text, wait, self._wait_timeout if wait else None)
        started = utc_now()
        deadline = time.monotonic() + self._wait_seconds
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return self._send(call)
            except OutcomeUnknownError as unknown:
                try:
                    session = self._send(routes.get_user_session(user_id))
                except NotFoundError:
                    session = None  # no session: the message was not stored
                except (ApiError, httpx.HTTPError) as exc:
                    raise unknown from exc
                entry = session and find_sent_message(session, text, started - self._clock_skew)
                if entry:
                    if not wait:
                        return MessageAccepted(request_id=entry.request_id, status=entry.status, position=None)
                    return self._follow_user_request(user_id, entry.request_id, deadline, unknown)
                if attempt == self.retry.max_attempts:
                    raise
                time.sleep(self.retry.backoff_delay(attempt))
        raise AssertionError("unreachable")

    def _follow_user_request(self, user_id: str, request_id: str, deadline: float,
                             unknown: OutcomeUnknownError) -> UserReply:
        while True:
            try:
                session = self._send(routes.get_user_session(user_id))
            except (ApiError, httpx.HTTPError) as exc:
                raise OutcomeUnknownError(unknown.method, unknown.path, "its reply could not be read",
                                          request_id=request_id) from exc
            outcome = sent_message_outcome(session, request_id, user_id)
            if isinstance(outcome, UserReply):
                return outcome
            if isinstance(outcome, ApiError):
                raise outcome
            if time.monotonic() > deadline:
                raise OutcomeUnknownError(unknown.method, unknown.path, "its reply did not come in time",
                                          request_id=request_id)
            time.sleep(0.25)

    def _events(self, events_path: str, factory: Callable[[str, int | None, Any], E],
                last_event_id: int | None) -> EventStream[E]:
        return EventStream(self, events_path, factory, last_event_id)


class EventStream(Generic[E]):
    """A live-update iterator: typed events, resumed with ``Last-Event-ID`` after a dropped connection, each event
    yielded once. ``delta`` hints (no id) are yielded as they come and never move the resume point.

    Stop it by breaking out of the loop and calling :meth:`close` (or use it as a context manager); :meth:`close`
    may also be called from another thread to end a blocked read.
    """

    def __init__(self, client: LecturesClient, events_path: str, factory: Callable[[str, int | None, Any], E],
                 last_event_id: int | None) -> None:
        self._client = client
        self._path = events_path
        self._state: ResumableStream[E] = ResumableStream(factory, last_event_id)
        self._closed = threading.Event()
        self._response: httpx.Response | None = None
        self._events = self._run()
        self.connections = 0
        """How many times a connection was opened (1 + the reconnects)."""

    @property
    def last_event_id(self) -> int | None:
        return self._state.last_event_id

    def __iter__(self) -> Iterator[E]:
        return self

    def __next__(self) -> E:
        return next(self._events)

    def __enter__(self) -> EventStream[E]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            response.close()
        try:
            self._events.close()
        except ValueError:
            pass  # running in another thread: it sees the closed response and returns

    def _run(self) -> Iterator[E]:
        client = self._client
        policy = _stream_policy(client.retry)
        failures = 0
        while not self._closed.is_set():
            headers = self._state.start_connection()
            try:
                with client._http.stream("GET", self._path, headers=headers, timeout=client._stream_timeout) as response:
                    self._response = response
                    if response.status_code != 200:
                        response.read()
                        error = problem_error(response, "GET", self._path)
                        # Reading a stream changes nothing: 503 and 429 are waited out like any read's.
                        failures += 1
                        decision = decide_on_error(policy, Safety.READ, failures, error)
                        if decision.verdict is not Verdict.RETRY:
                            raise error
                        self._closed.wait(decision.delay)
                        continue
                    self.connections += 1
                    failures = 0
                    for chunk in response.iter_text():
                        for event in self._state.feed_text(chunk):
                            if self._closed.is_set():
                                return
                            yield event
            except Exception as exc:
                if self._closed.is_set():
                    return  # close() ended a blocked read
                if not isinstance(exc, httpx.TransportError):
                    raise
                failures += 1
                if failures >= policy.max_attempts:
                    raise
            finally:
                self._response = None
            # The stream ended (the server stopped, a proxy cut it) or broke: resume after the last event seen.
            self._closed.wait(_reconnect_delay(self._state.retry_ms, failures, client.retry))


def _stream_policy(policy: RetryPolicy) -> RetryPolicy:
    # A live stream keeps trying longer than a single request: it is expected to outlive a failover.
    return RetryPolicy(max_attempts=max(policy.max_attempts, 10), backoff=policy.backoff,
                       max_backoff=policy.max_backoff, max_retry_after=policy.max_retry_after)


def _reconnect_delay(retry_ms: int | None, failures: int, policy: RetryPolicy) -> float:
    base = retry_ms / 1000 if retry_ms is not None else 0.1
    return base if failures == 0 else max(base, policy.backoff_delay(failures))


# ---------------------------------------------------------------- route groups


class Lectures:
    def __init__(self, client: LecturesClient) -> None:
        self._c = client

    def put(self, lecture_id: str, title: str, topics: Sequence[Topic | Mapping[str, Any]], *,
            if_match: str | None = None) -> Lecture:
        return self._c._send(routes.put_lecture(lecture_id, title, topics, if_match))

    def get(self, lecture_id: str) -> Lecture:
        return self._c._send(routes.get_lecture(lecture_id))

    def start_session(self, lecture_id: str, robot_id: str, topic_id: str, language: str, *,
                      idempotency_key: str | None = None, if_match: str | None = None) -> LectureSession:
        """Without ``idempotency_key`` the client makes one, so a retry after an unknown outcome is safe."""
        return self._c._send(routes.start_session(lecture_id, robot_id, topic_id, language, idempotency_key, if_match))

    def get_run(self, lecture_id: str, robot_id: str, *, limit: int | None = None) -> Run:
        return self._c._send(routes.get_run(lecture_id, robot_id, limit))

    def get_session(self, lecture_id: str, robot_id: str, session_id: str) -> LectureSession:
        return self._c._send(routes.get_session(lecture_id, robot_id, session_id))

    def end_session(self, lecture_id: str, robot_id: str, session_id: str, *,
                    if_match: str | None = None) -> LectureSession:
        return self._c._send(routes.end_session(lecture_id, robot_id, session_id, if_match))

    def command(self, lecture_id: str, robot_id: str, command: LectureCommand, *, if_match: str | None = None) -> Run:
        return self._c._send(routes.command(lecture_id, robot_id, command, if_match))

    def events(self, lecture_id: str, robot_id: str, *,
               last_event_id: int | None = None) -> EventStream[RunStreamEvent]:
        return self._c._events(routes.run_events_path(lecture_id, robot_id), run_event, last_event_id)


class Rooms:
    def __init__(self, client: LecturesClient) -> None:
        self._c = client

    def put(self, room_code: str, agents: Sequence[AgentDefinition | Mapping[str, Any]], *,
            reply_policy: str = "all", if_match: str | None = None) -> Room:
        return self._c._send(routes.put_room(room_code, agents, reply_policy, if_match))

    def get(self, room_code: str) -> Room:
        return self._c._send(routes.get_room(room_code))

    def join(self, room_code: str, player_id: str, *, if_match: str | None = None) -> Room:
        return self._c._send(routes.join_room(room_code, player_id, if_match))

    def leave(self, room_code: str, player_id: str, *, if_match: str | None = None) -> Room:
        return self._c._send(routes.leave_room(room_code, player_id, if_match))

    def post_message(self, room_code: str, sender_id: str, text: str, *, client_message_id: str | None = None,
                     agent_ids: Sequence[str] | None = None) -> PostedMessage:
        """Without ``client_message_id`` the client makes one, so a retry after an unknown outcome is safe."""
        return self._c._send(routes.post_message(room_code, sender_id, text, client_message_id, agent_ids))

    def messages(self, room_code: str, *, after: int | None = None, limit: int | None = None) -> MessagePage:
        return self._c._send(routes.list_messages(room_code, after, limit))

    def events(self, room_code: str, *, last_event_id: int | None = None) -> EventStream[RoomStreamEvent]:
        return self._c._events(routes.room_events_path(room_code), room_event, last_event_id)


class Users:
    def __init__(self, client: LecturesClient) -> None:
        self._c = client

    def send_message(self, user_id: str, text: str) -> UserReply:
        """Wait mode: the reply, or :class:`ApiError` (504 ``session.timeout``, 502 ``session.responder_failed``,
        409 ``session.cancelled``, 409 ``session.busy``, 429...)."""
        result = self._c._send_user_message(user_id, text, wait=True)
        assert isinstance(result, UserReply)
        return result

    def submit_message(self, user_id: str, text: str) -> MessageAccepted:
        """No-wait mode (``wait=false``): the request id, its status and its place in the queue."""
        result = self._c._send_user_message(user_id, text, wait=False)
        assert isinstance(result, MessageAccepted)
        return result

    def cancel(self, user_id: str) -> CancelResult:
        return self._c._send(routes.cancel_user_request(user_id))

    def clear(self, user_id: str) -> ClearResult:
        return self._c._send(routes.clear_user_session(user_id))

    def get_session(self, user_id: str) -> Session:
        return self._c._send(routes.get_user_session(user_id))

    def events(self, user_id: str, *, last_event_id: int | None = None) -> EventStream[UserStreamEvent]:
        return self._c._events(routes.user_events_path(user_id), user_event, last_event_id)


class Jobs:
    def __init__(self, client: LecturesClient) -> None:
        self._c = client

    def create(self, kind: str, input: Any = None, *, job_id: str | None = None) -> Job:
        """Without ``job_id`` the client makes one, so a retry after an unknown outcome is safe."""
        return self._c._send(routes.create_job(kind, input, job_id))

    def get(self, job_id: str) -> Job:
        return self._c._send(routes.get_job(job_id))

    def start(self, job_id: str, worker_id: str, *, if_match: str | None = None) -> Job:
        return self._c._send(routes.start_job(job_id, worker_id, if_match))

    def progress(self, job_id: str, worker_id: str, progress: float, message: str | None = None, *,
                 if_match: str | None = None) -> ProgressResult:
        return self._c._send(routes.report_progress(job_id, worker_id, progress, message, if_match))

    def heartbeat(self, job_id: str, worker_id: str) -> Job:
        return self._c._send(routes.heartbeat(job_id, worker_id))

    def complete(self, job_id: str, worker_id: str, result: Any = None, *, if_match: str | None = None) -> Job:
        return self._c._send(routes.complete_job(job_id, worker_id, result, if_match))

    def fail(self, job_id: str, worker_id: str, error: str, *, if_match: str | None = None) -> Job:
        return self._c._send(routes.fail_job(job_id, worker_id, error, if_match))

    def cancel(self, job_id: str, *, if_match: str | None = None) -> Job:
        return self._c._send(routes.cancel_job(job_id, if_match))

    def events(self, job_id: str, *, last_event_id: int | None = None) -> EventStream[JobStreamEvent]:
        return self._c._events(routes.job_events_path(job_id), job_event, last_event_id)
