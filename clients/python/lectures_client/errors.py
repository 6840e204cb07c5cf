"""Exceptions raised by the client.

Every refusal of the API is an RFC 9457 problem document; :class:`ApiError` carries its fields. A request whose
outcome is unknown (no answer: a timeout, a reset) and that the client may not repeat raises
:class:`OutcomeUnknownError`.
"""

from __future__ import annotations

from typing import Any, Mapping


class ClientError(Exception):
    """Base class of everything this package raises."""


class ApiError(ClientError):
    """The API answered with an error status (a problem document).

    ``status``, ``code``, ``title``, ``detail`` and ``errors`` (field -> messages, for 400 ``validation``) come from the
    problem document; ``retry_after`` (seconds) from the ``Retry-After`` header; ``problem`` is the whole document,
    including route-specific extensions (``state`` and ``command`` of ``lecture.invalid_transition``,
    ``activeRequestId`` of ``session.busy``, ``currentETag`` of ``precondition_failed``...).

    ``after_unknown_outcome`` is true when this answer came to a repeat sent after an attempt whose outcome was
    unknown: a 412 or 409 may then be the first attempt's own doing.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        retry_after: float | None = None,
        problem: Mapping[str, Any] | None = None,
        method: str | None = None,
        path: str | None = None,
        after_unknown_outcome: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.errors: dict[str, list[str]] = dict(errors or {})
        self.retry_after = retry_after
        self.problem: dict[str, Any] = dict(problem or {})
        self.method = method
        self.path = path
        self.after_unknown_outcome = after_unknown_outcome
        where = f" ({method} {path})" if method and path else ""
        super().__init__(f"{status} {code}: {detail or title or ''}{where}".rstrip())

    @property
    def outcome_unknown(self) -> bool:
        """503 ``unavailable``: the cluster did not answer in time; the change may or may not have been made."""
        return self.status == 503 and self.code == "unavailable"


class BadRequestError(ApiError):
    """400: ``validation`` (see ``errors``) and other bad input."""


class UnauthorizedError(ApiError):
    """401 ``unauthorized``: no valid API key."""


class ForbiddenError(ApiError):
    """403: ``forbidden`` (role or subject does not fit) or a route's own code such as ``room.not_a_player``."""


class NotFoundError(ApiError):
    """404: ``not_found`` or a route's own code such as ``job.not_found``."""


class ConflictError(ApiError):
    """409: ``job.claimed``, ``job.terminal``, ``lecture.invalid_transition``, ``session.busy``..."""


class PreconditionFailedError(ApiError):
    """412 ``precondition_failed``: the ``If-Match`` ETag is stale; ``problem['currentETag']`` has the current one."""


class PayloadTooLargeError(ApiError):
    """413 ``payload_too_large``."""


class RateLimitedError(ApiError):
    """429: ``rate_limited``, ``rate_limited.user``, ``rate_limited.global``, ``session.queue_full``."""


class ServiceUnavailableError(ApiError):
    """503: ``storage_unavailable`` (nothing changed) or ``unavailable`` (outcome unknown)."""


class OutcomeUnknownError(ClientError):
    """No answer (a timeout, a reset, a 503 ``unavailable``) to a request the client may not repeat by itself.

    The change may or may not have been made: read the resource before deciding what to do. The underlying error is
    ``__cause__`` (an ``httpx`` exception or an :class:`ApiError`).
    """

    def __init__(self, method: str, path: str, reason: str, *, request_id: str | None = None) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.request_id = request_id
        """For a user message found in the session whose reply could not be followed: its request id."""
        super().__init__(f"outcome of {method} {path} is unknown: {reason}")


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    413: PayloadTooLargeError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_class(status: int) -> type[ApiError]:
    """The most specific :class:`ApiError` subclass for a status."""
    return _BY_STATUS.get(status, ApiError)
