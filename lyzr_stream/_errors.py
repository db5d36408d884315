"""Typed errors raised by lyzr-stream.

The names follow openai-python so that code written against one reads naturally against the
other. Every error raised while a stream is being read carries ``partial_text``: the answer text
that had already reached the caller, so nothing received is lost.

Messages say what happened and what to check. They never contain the API key: request headers
are never formatted into a message, and response excerpts are cut short and scrubbed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AgentFailedError",
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
    "TaskFailedError",
    "UnprocessableEntityError",
    "check_extra",
    "check_int_in_range",
    "parse_retry_after",
    "redact_url",
    "redacted",
    "scrub",
    "status_error",
]

EXCERPT_CHARS = 200

#: Shorter secrets are not scrubbed from messages (they would blank out ordinary words).
_MIN_SCRUBBED = 6


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``[redacted]``: the one scrubber for every message,
    log line and span that may quote a secret. Each secret is looked for as it is, as ``repr``
    and bytes ``repr`` print it, and percent-encoded as a URL carries it."""
    for secret in secrets:
        if len(secret) < _MIN_SCRUBBED:
            continue
        forms = {
            secret,
            repr(secret)[1:-1],
            repr(secret.encode("utf-8", "replace"))[2:-1],
            quote(secret, safe=""),
            quote_plus(secret, safe=""),
        }
        for form in forms:
            if form in text:
                text = text.replace(form, "[redacted]")
    return text


def _scrubbed_value(value: object, secrets: tuple[str, ...]) -> object:
    """A decoded body (JSON or text) with ``secrets`` scrubbed from every string in it."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {
            scrub(k, secrets) if isinstance(k, str) else k: _scrubbed_value(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed_value(v, secrets) for v in value]
    return value


def redacted(error: LyzrError, secrets: tuple[str, ...]) -> LyzrError:
    """``error`` with ``secrets`` scrubbed from its message, ``args``, and what it quotes of the
    service's answer (``body``, ``headers``, ``body_excerpt``): a service may echo the key back
    (``403 denied for key sk-...``). Applied once, where a call's error leaves the HTTP layer
    (:class:`lyzr_stream._http.limits.Attempts`). ``partial_text`` is the answer and is kept."""
    if not secrets:
        return error
    error.message = scrub(error.message, secrets)
    error.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in error.args)
    if isinstance(error, APIStatusError):
        error.body = _scrubbed_value(error.body, secrets)
        error.headers = {k: scrub(v, secrets) for k, v in error.headers.items()}
    elif isinstance(error, APIResponseValidationError):
        error.body_excerpt = scrub(error.body_excerpt, secrets)
    return error


def redact_url(url: str) -> str:
    """``url`` fit for a message or a repr: its user info and query (where credentials ride)
    replaced by ``[redacted]``."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "[a URL that could not be parsed]"
    netloc = f"[redacted]@{host}" if "@" in parts.netloc else host
    query = "[redacted]" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


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
    """Base class of every error this package raises on purpose.

    ``may_have_run`` is True when the call started an agent run that may have happened (the
    request reached the service), but the call failed and was not retried: the agent may have
    written its memory, called its tools and spent credits (docs/errors.md).
    """

    partial_text: str
    may_have_run: bool = False

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.partial_text = partial_text

    def _amend(self, note: str) -> None:
        """Add ``note`` to the message (and ``args``, so ``str()`` shows it)."""
        self.message = f"{self.message} ({note})"
        self.args = (self.message, *self.args[1:])


class InvalidRequestError(LyzrError, ValueError):
    """The arguments are wrong; raised before anything is sent.

    Also a ``ValueError``, so code that validates input generically catches it.
    """


class APIConnectionError(LyzrError):
    """The service could not be reached, or the connection broke while reading.

    ``request_sent`` is False when the request provably never reached the service (the
    connection was never established, or no pooled connection was free): only then is a call
    that runs an agent retried.
    """

    def __init__(self, message: str, *, partial_text: str = "", request_sent: bool = True) -> None:
        super().__init__(message, partial_text=partial_text)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """A timeout fired. ``kind`` names which one: connect, first_byte, read, write, pool, total,
    or ``task`` (``LyzrClient.run_task`` waited its ``timeout`` for a background task that is
    still running: ``task_id`` names it, to resume with ``get_task``)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        partial_text: str = "",
        request_sent: bool = True,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message, partial_text=partial_text, request_sent=request_sent)
        self.kind = kind
        self.task_id = task_id


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


class TaskFailedError(AgentError):
    """A background task ended ``failed`` (``LyzrClient.run_task``): ``task_id`` names it and
    ``reason`` is the service's error text."""

    may_have_run = True

    def __init__(self, message: str, *, task_id: str, reason: str) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.reason = reason


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


class AgentFailedError(AgentError, InternalServerError):
    """HTTP 500 from a route that runs the agent: the agent failed (crashed) before it answered.

    Both an :class:`AgentError`, like a failure the stream route reports inside its answer (so
    ``except AgentError`` catches an agent crash on the one-shot and the stream route alike), and
    an :class:`InternalServerError` (a 5xx). Never retried: the agent may have run.
    """


#: A ``Retry-After`` further away than this (a year) is no hint at all: it is ignored.
MAX_RETRY_AFTER_HINT = 365 * 24 * 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None when absent,
    unreadable, or absurd (not finite, or more than a year away: ``year 99999``)."""
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
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    if not math.isfinite(seconds) or seconds > MAX_RETRY_AFTER_HINT:
        return None
    return max(0.0, seconds)


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
    404: "check the agent id, session id, chat id or knowledge base id and the base URL "
    "(rag_base_url for knowledge bases)",
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
    runs_agent: bool = False,
) -> APIStatusError:
    """The typed error of an error status: one place for the status code rule (which class,
    what to check). ``body`` is the decoded body; the message quotes its detail (secrets a
    service echoes back are scrubbed where the error leaves the call: :func:`redacted`, applied
    by ``Attempts.final``). ``runs_agent``: the route runs the agent, where a 500 is the agent's
    failure (:class:`AgentFailedError`)."""
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        if status_code == 500 and runs_agent:
            cls = AgentFailedError
        else:
            cls = InternalServerError if status_code >= 500 else APIStatusError
    if cls is AgentFailedError:
        hint = "the agent failed while running"
    else:
        hint = _HINTS.get(
            status_code, "the service failed; retry later" if status_code >= 500 else ""
        )
    message = f"HTTP {status_code}: {_detail(body)}" + (f" ({hint})" if hint else "")
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


def check_int_in_range(name: str, value: object, low: int, high: int) -> None:
    """Refuse ``value`` unless it is an ``int`` (not a ``bool``) from ``low`` to ``high``; the
    :class:`InvalidRequestError` names ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequestError(
            f"{name} must be an integer from {low} to {high}, got {value!r}"
        )


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
