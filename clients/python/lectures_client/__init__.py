"""Python client of the lectures backend (REST contract: API.md).

``LecturesClient`` (sync) and ``AsyncLecturesClient`` (asyncio), both on httpx; results are dataclasses
(:mod:`lectures_client.models`), refusals raise :class:`ApiError` subclasses, retries follow README's table of safe
retries (:mod:`lectures_client._core`), live updates are resumable iterators of typed events.
"""

from ._async import AsyncEventStream, AsyncLecturesClient
from ._core import NO_RETRIES, RetryPolicy
from ._sync import EventStream, LecturesClient
from .errors import (
    ApiError, BadRequestError, ClientError, ConflictError, ForbiddenError, NotFoundError, OutcomeUnknownError,
    PayloadTooLargeError, PreconditionFailedError, RateLimitedError, ServiceUnavailableError, UnauthorizedError,
)
from .models import *  # noqa: F401,F403  (the dataclasses are part of the public API)
from .models import __all__ as _models_all

__version__ = "0.1.0"

__all__ = [
    "AsyncEventStream", "AsyncLecturesClient", "EventStream", "LecturesClient", "NO_RETRIES", "RetryPolicy",
    "ApiError", "BadRequestError", "ClientError", "ConflictError", "ForbiddenError", "NotFoundError",
    "OutcomeUnknownError", "PayloadTooLargeError", "PreconditionFailedError", "RateLimitedError",
    "ServiceUnavailableError", "UnauthorizedError", *_models_all,
]
