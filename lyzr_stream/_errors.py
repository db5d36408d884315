"""Typed errors raised by lyzr-stream.

The names follow openai-python so that code written against one reads naturally against the
other. Every error raised while a stream is being read carries ``partial_text``: the answer text
that had already reached the caller, so nothing received is lost.

Messages say what happened and what to check. They never contain the API key: request headers
are never formatted into a message, and response excerpts are cut short and scrubbed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "LyzrError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "check_extra",
    "parse_retry_after",
    "scrub",
    "status_error",
]

EXCERPT_CHARS = 200

#: Shorter secrets are not scrubbed from messages (they would blank out ordinary words).
_MIN_SCRUBBED = 6


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret (and its ``repr``/bytes form, and its percent-encoded form as
    in a URL's query) replaced by ``[redacted]``: the one scrubber for every message that may
    quote a secret."""
    for secret in secrets:
        if len(secret) < _MIN_SCRUBBED:
            continue
        for form in (
            secret,
            repr(secret)[1:-1],
            repr(secret.encode("utf-8", "replace"))[2:-1],
            quote(secret, safe=""),
            quote_plus(secret, safe=""),
        ):
            text = text.replace(form, "[redacted]")
    return text


def excerpt(data: bytes | str, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable excerpt of a response body for error messages."""
    # Only the head is looked at: the body may be large (whitespace runs shrink, so 4x).
    head = data[: limit * 4 + 1]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    text = " ".join(text.split())
    if len(text) <= limit and len(head) <= limit * 4:
        return text
    return text[: limit - 1] + "…"


class LyzrError(Exception):
    """Base class of every error this package raises on purpose."""

    partial_text: str

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.partial_text = partial_text


class InvalidRequestError(LyzrError, ValueError):
    """The arguments are wrong; raised before anything is sent.

    Also a ``ValueError``, so code that validates input generically catches it.
    """


class APIConnectionError(LyzrError):
    """The service could not be reached, or the connection broke while reading."""


class APITimeoutError(APIConnectionError):
    """A timeout fired. ``kind`` names which one: connect, first_byte, read, write, pool, total."""

    def __init__(self, message: str, *, kind: str, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.kind = kind


class APIResponseValidationError(LyzrError):
    """The service answered with something this package cannot understand.

    Examples: invalid JSON in a JSON event, invalid UTF-8, an event larger than the cap,
    an HTML page where a stream was expected. ``body_excerpt`` shows a short part of it.
    """

    def __init__(self, message: str, *, body_excerpt: str = "", partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.body_excerpt = body_excerpt


class StreamInterruptedError(APIConnectionError):
    """The stream ended before the service said it was done (no ``[DONE]`` / end event)."""


class AgentError(LyzrError):
    """The agent reported a failure inside a successful (200) stream, e.g. ``[ERROR] ...``."""


class APIStatusError(LyzrError):
    """The service answered with an error status. ``body`` is the decoded body (JSON or text)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message, partial_text=partial_text)
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers or {})


class BadRequestError(APIStatusError):
    """400: the service rejected the request as invalid."""


class AuthenticationError(APIStatusError):
    """401: the API key (or session cookie) is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: the agent, session or chat does not exist."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state of the resource."""


class UnprocessableEntityError(BadRequestError):
    """422: the request body failed the service's validation."""


class RateLimitError(APIStatusError):
    """429: rate limited or out of credits. ``retry_after`` is in seconds when the service said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    """5xx: the service failed."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_HINTS: dict[int, str] = {
    400: "check the request fields",
    401: "check the API key (LYZR_API_KEY) or session cookie",
    403: "the credentials are valid but not allowed to use this resource",
    404: "check the agent id, session id or chat id and the base URL",
    409: "the resource is busy or in a conflicting state; retry later",
    422: "the service rejected a field; see the detail",
    429: "rate limited, or the account may be out of credits (Lyzr answers 429 when the "
    "credits are exhausted): check the account's balance",
}


#: An error message quotes at most this much of the service's detail.
DETAIL_CHARS = 500


def _detail(body: object) -> str:
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                return excerpt(text, DETAIL_CHARS)
    if isinstance(body, str):
        if "<html" in body.lower()[:500]:
            return f"an HTML page instead of an API error ({excerpt(body, 80)})"
        return excerpt(body)
    return excerpt(json.dumps(body, default=str))


def status_error(
    status_code: int,
    headers: Mapping[str, str],
    body: object,
    *,
    partial_text: str = "",
    secrets: tuple[str, ...] = (),
) -> APIStatusError:
    """The typed error of an error status: one place for the status code rule (which class,
    what to check). ``body`` is the decoded body; the message quotes its detail with
    ``secrets`` scrubbed from it (a service may echo a header back)."""
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    hint = _HINTS.get(status_code, "the service failed; retry later" if status_code >= 500 else "")
    message = f"HTTP {status_code}: {_detail(body)}" + (f" ({hint})" if hint else "")
    if secrets:
        message = scrub(message, secrets)
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "body": body,
        "headers": headers,
        "partial_text": partial_text,
    }
    if cls is RateLimitError:
        return RateLimitError(
            message, retry_after=parse_retry_after(headers.get("retry-after")), **kwargs
        )
    return cls(message, **kwargs)


def check_extra(error: ModuleNotFoundError, package: str, extra: str, *modules: str) -> None:
    """Raise an ImportError naming ``extra`` if ``error`` is about one of its ``modules``.

    Called from a package ``__init__`` that failed to import; any other missing module is left
    for the caller to re-raise as it is.
    """
    root = (error.name or "").split(".", 1)[0]
    if root in modules:
        raise ImportError(
            f'{package} needs the "{extra}" extra: pip install "lyzr-stream[{extra}]" '
            f"(missing module: {error.name})",
            name=error.name,
        ) from error
