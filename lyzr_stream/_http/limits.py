"""A call's limits: its timeouts, one per phase, and its retry policy.

Timeouts, as one object with a part per phase of a streamed request:

- ``connect``: opening the TCP/TLS connection;
- ``write`` and ``pool``: sending the body, waiting for a free pooled connection;
- ``first_byte``: from sending the request to the response headers (defaults to ``read``);
- ``read``: the longest gap allowed between two chunks of the body (the idle timeout);
- ``total``: the whole call, first byte to last; ``None`` means no limit.

A plain number sets ``connect``, ``read``, ``write`` and ``pool`` alike, as in httpx; an
``httpx.Timeout`` is taken part by part. ``None`` means the defaults below (not "no limit":
to lift a limit, pass ``Timeouts(read=None, ...)`` with that part set to ``None``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx

from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    LyzrError,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_EVENTS_CONNECT_TIMEOUT",
    "DEFAULT_EVENTS_GRACE",
    "DEFAULT_TIMEOUTS",
    "MAX_TIMEOUT",
    "NOT_GIVEN",
    "RETRY_STATUSES",
    "RetryPolicy",
    "TimeoutLike",
    "Timeouts",
]


#: The longest timeout accepted (a year): beyond it the socket layer overflows, and "no limit" is
#: spelled ``None``.
MAX_TIMEOUT = 365 * 24 * 3600.0

# The agent events channel's bounds (see ``_events_channel``), here because ``LyzrClient``'s
# signature shows them and importing the channel is left to the first client that uses it.
#: The most the channel may delay a stream's request (seconds).
DEFAULT_EVENTS_CONNECT_TIMEOUT = 0.5
#: How long the channel stays open for late events after the answer (seconds).
DEFAULT_EVENTS_GRACE = 1.0


def _check(name: str, value: float | None) -> None:
    """A timeout is a positive, finite number of seconds up to a year, or None; not a bool or a
    string (``True`` and ``"5"`` are refused rather than guessed at)."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= MAX_TIMEOUT  # also refuses NaN and infinities
    ):
        shown = repr(value) if not isinstance(value, int) or abs(value) < 10**20 else "a huge int"
        raise InvalidRequestError(
            f"timeout {name} must be a positive number of seconds up to {MAX_TIMEOUT:.0f} "
            f"(a year) or None, got {shown}"
        )


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None = 10.0
    read: float | None = 120.0
    write: float | None = 30.0
    pool: float | None = 30.0
    first_byte: float | None = None
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool", "first_byte", "total"):
            _check(name, getattr(self, name))

    @classmethod
    def coerce(cls, value: TimeoutLike) -> Timeouts:
        """Accept a number, an ``httpx.Timeout``, a ``Timeouts`` or ``None`` (the defaults)."""
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return cls()
        if isinstance(value, httpx.Timeout):
            return cls(value.connect, value.read, value.write, value.pool)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRequestError(
                f"timeout must be seconds, httpx.Timeout or Timeouts, got {type(value).__name__}"
            )
        _check("timeout", value)
        v = float(value)
        return cls(v, v, v, v)

    @property
    def header_timeout(self) -> float | None:
        """The socket read timeout while waiting for the response headers."""
        return self.first_byte if self.first_byte is not None else self.read

    def to_httpx(self, remaining: float | None = None) -> httpx.Timeout:
        """The httpx timeouts of one attempt; ``remaining``: what is left of ``total``."""
        limit = self.total if remaining is None else remaining

        def cap(value: float | None) -> float | None:
            if limit is None:
                return value
            return limit if value is None else min(value, limit)

        return httpx.Timeout(
            connect=cap(self.connect),
            read=cap(self.header_timeout),
            write=cap(self.write),
            pool=cap(self.pool),
        )


TimeoutLike = float | int | httpx.Timeout | Timeouts | None
#: The default of a per-call ``timeout``: the client's own (``None`` means no timeout).
NOT_GIVEN: Any = object()

DEFAULT_TIMEOUTS = Timeouts()


#: Statuses retried whatever their headers. 429 is retried only with ``Retry-After``.
RETRY_STATUSES = frozenset({408, 409, 500, 502, 503, 504})
#: Timeouts that fire before any response byte arrived; the others are mid-body.
_EARLY_TIMEOUTS = frozenset({"connect", "pool", "write", "first_byte"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry and how long to wait: exponential backoff with full jitter, ``Retry-After``
    honoured up to ``max_retry_after``.

    Retried: connection errors, timeouts before the response starts, and the statuses 408, 409,
    500, 502, 503, 504; 429 only when it carries ``Retry-After`` (Lyzr answers 429 when the
    account's credits are exhausted, and retrying that only burns the caller's time). Never
    retried: 400, 401, 403, 404, 422, agent errors, malformed responses, and anything at all
    once part of a stream has been handed to the caller (the error then carries
    ``partial_text``; retrying would repeat text the caller already has).
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or (self.max_retries < 0)
        ):
            raise InvalidRequestError(
                f"max_retries must be a non-negative integer, got {self.max_retries!r}"
            )

    @staticmethod
    def is_retryable(error: LyzrError) -> bool:
        if isinstance(error, APITimeoutError):
            return error.kind in _EARLY_TIMEOUTS
        if isinstance(error, APIStatusError):
            if error.status_code == 429:
                return parse_retry_after(error.headers.get("retry-after")) is not None
            return error.status_code in RETRY_STATUSES
        # Reached only while nothing has been handed to the caller (the shells check that).
        return isinstance(error, APIConnectionError)

    def delay(self, attempt: int, error: LyzrError) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None: do not retry."""
        if attempt > self.max_retries or not self.is_retryable(error):
            return None
        if isinstance(error, APIStatusError):
            retry_after = parse_retry_after(error.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)
