"""A call's limits: its timeouts (one per phase), its total deadline, and the one retry rule.

Every HTTP call the client makes (stream, one-shot chat, files, sessions, stop) is bounded by a
:class:`Timeouts` and a :class:`Deadline` and retried, or not, by one :class:`Attempts` over a
:class:`RetryPolicy`; the sync and async send loops only sleep and send.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from .._errors import (
    AgentError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    LyzrError,
    parse_retry_after,
    redacted,
)

__all__ = [
    "DEFAULT_TIMEOUTS",
    "MAX_TIMEOUT",
    "MAY_HAVE_RUN",
    "NOT_GIVEN",
    "NO_TIMEOUTS",
    "RETRY_STATUSES",
    "Attempts",
    "Deadline",
    "RetryHook",
    "RetryPolicy",
    "TimeoutLike",
    "Timeouts",
    "timeout_error",
]

logger = logging.getLogger("lyzr_stream")

#: The longest timeout accepted (a year): beyond it the socket layer overflows, and "no limit" is
#: spelled ``None``.
MAX_TIMEOUT = 365 * 24 * 3600.0


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
    """Timeouts, one per phase of a request (seconds; ``None`` lifts that limit):

    - ``connect``: opening the TCP/TLS connection;
    - ``write`` and ``pool``: sending the body, waiting for a free pooled connection;
    - ``first_byte``: from sending the request to the response headers (defaults to ``read``);
    - ``read``: the longest gap allowed between two chunks of the body (the idle timeout);
    - ``total``: the whole call, retries and their waits included.

    Wherever a timeout is taken (``LyzrClient(timeout=...)``, a per-call ``timeout=``, the
    framework models' ``timeout``), a plain number sets ``connect``, ``read``, ``write`` and
    ``pool`` alike, as in httpx; an ``httpx.Timeout`` is taken part by part; ``None`` means no
    timeout at all, as in httpx. ``Timeouts()`` holds the defaults.
    """

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
        """Accept a number, an ``httpx.Timeout``, a ``Timeouts`` or ``None`` (no timeout)."""
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return NO_TIMEOUTS
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

DEFAULT_TIMEOUTS: Final = Timeouts()
#: ``timeout=None``: no limit on any phase.
NO_TIMEOUTS: Final = Timeouts(connect=None, read=None, write=None, pool=None)


class Deadline:
    """The ``total`` timeout as an absolute monotonic time (or no limit)."""

    __slots__ = ("at",)

    def __init__(self, total: float | None) -> None:
        self.at = None if total is None else time.monotonic() + total

    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())


_TIMEOUT_ADVICE = {
    "connect": "the service did not accept the connection in time; check the base URL and network",
    "write": "sending the request took too long",
    "pool": "all pooled connections were busy; raise the pool size or lower concurrency",
    "first_byte": "the service did not start answering in time",
    "read": "the stream went quiet for longer than the read (idle) timeout",
    "total": "the whole call took longer than the total timeout",
}


#: Timeouts that fire before the request left: it never reached the service.
_UNSENT_TIMEOUTS = frozenset({"connect", "pool"})


def timeout_error(
    kind: str, partial_text: str = "", *, phase: str | None = None
) -> APITimeoutError:
    """The :class:`APITimeoutError` of one timeout ``kind``, with what to check. ``phase``: the
    phase that was waiting when it fired (a ``total`` timeout during ``connect`` still proves
    the request never left); default ``kind``."""
    return APITimeoutError(
        f"{kind} timeout: {_TIMEOUT_ADVICE[kind]}",
        kind=kind,
        partial_text=partial_text,
        request_sent=(phase or kind) not in _UNSENT_TIMEOUTS,
    )


#: Statuses an idempotent call retries whatever their headers. 429 is retried only with
#: ``Retry-After``.
RETRY_STATUSES = frozenset({408, 409, 500, 502, 503, 504})
#: Timeouts that fire before any response byte arrived; the others are mid-body.
_EARLY_TIMEOUTS = frozenset({"connect", "pool", "write", "first_byte"})
#: What the note on a final error of an agent run says (docs/errors.md).
MAY_HAVE_RUN = (
    "not retried: the request reached the service, so the agent may have run (an agent run "
    "is never repeated automatically; see retry_unsafe)"
)


def _has_retry_after(error: APIStatusError) -> bool:
    return parse_retry_after(error.headers.get("retry-after")) is not None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry and how long to wait: exponential backoff with full jitter, ``Retry-After``
    honoured up to ``max_retry_after``.

    A call that runs an agent (a stream or a one-shot chat) is re-sent only when it provably
    did not start a run: the connection was never established (connect error, DNS failure, a
    connect or pool timeout), or the service answered 429 or 503 with ``Retry-After`` (the
    request was not taken). A 500, 502 or 504, a timeout or a broken connection after the
    request went out is raised with ``may_have_run=True``: an agent run writes the agent's
    memory, may call tools with real effects and spends credits, and no official Lyzr client
    repeats it.

    Idempotent calls (history, listing, sessions, uploads, stop) are retried on connection
    errors, timeouts before the response starts, and the statuses 408, 409, 500, 502, 503, 504;
    429 only with ``Retry-After`` (Lyzr answers 429 when the account's credits are exhausted).

    ``retry_unsafe=True`` applies the idempotent rule to agent runs too, at the risk of running
    the agent more than once (the rule for every call before; see CHANGELOG).

    Never retried: 400, 401, 403, 404, 422, agent errors, malformed responses, and anything at
    all once part of a stream has been handed to the caller (the error then carries
    ``partial_text``; retrying would repeat text the caller already has).
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    retry_unsafe: bool = False

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or (self.max_retries < 0)
        ):
            raise InvalidRequestError(
                f"max_retries must be a non-negative integer, got {self.max_retries!r}"
            )
        if not isinstance(self.retry_unsafe, bool):
            raise InvalidRequestError(
                f"retry_unsafe must be True or False, got {self.retry_unsafe!r}"
            )

    @staticmethod
    def is_retryable(error: LyzrError) -> bool:
        """Whether an idempotent call is retried after ``error``."""
        if isinstance(error, APITimeoutError):
            return error.kind in _EARLY_TIMEOUTS
        if isinstance(error, APIStatusError):
            if error.status_code == 429:
                return _has_retry_after(error)
            return error.status_code in RETRY_STATUSES
        # Reached only while nothing has been handed to the caller (Attempts checks that).
        return isinstance(error, APIConnectionError)

    @staticmethod
    def run_not_started(error: LyzrError) -> bool:
        """Whether ``error`` proves that a call that runs an agent did not start a run."""
        if isinstance(error, APITimeoutError) and error.kind == "total":
            return False  # the call's time is up, whatever it was doing
        if isinstance(error, APIConnectionError):
            return not error.request_sent
        if isinstance(error, APIStatusError):
            return error.status_code in (429, 503) and _has_retry_after(error)
        return False

    def retries(self, error: LyzrError, *, runs_agent: bool = False) -> bool:
        """Whether the rule retries after ``error`` (the attempt count aside)."""
        if runs_agent and not self.retry_unsafe:
            return self.run_not_started(error)
        return self.is_retryable(error)

    def delay(self, attempt: int, error: LyzrError, *, runs_agent: bool = False) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None: do not retry."""
        if attempt > self.max_retries or not self.retries(error, runs_agent=runs_agent):
            return None
        if isinstance(error, APIStatusError):
            retry_after = parse_retry_after(error.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


#: Told of each retry: the attempt that failed, its error, the wait before the next one. The
#: client passes its tracing here (the HTTP layer reports upward; it imports no telemetry).
RetryHook = Callable[[int, LyzrError, float], None]


class Attempts:
    """The one retry rule of one call, for every send loop (stream or not, sync or async), and
    the one place a call's error leaves the HTTP layer.

    The loop calls :meth:`begin` before each attempt and, when an attempt failed with a
    :class:`LyzrError`, :meth:`delay_after` for the wait before the next: it raises the error
    when it is not retried (the policy says no, or part of the answer was already delivered). A
    wait never overshoots the total deadline: it is cut at the time left, and the next
    :meth:`begin` then raises ``APITimeoutError(kind="total")``. Every error raised here, and
    every error of reading the answer afterwards (:meth:`final`), has the call's secrets
    scrubbed from it and, for an agent run that may have happened, says so (``may_have_run``).
    """

    __slots__ = (
        "_failed",
        "_on_retry",
        "_policy",
        "_runs_agent",
        "_secrets",
        "_then_raise",
        "deadline",
        "number",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        deadline: Deadline,
        on_retry: RetryHook | None = None,
        *,
        runs_agent: bool = False,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._policy, self.deadline, self._on_retry = policy, deadline, on_retry
        self._runs_agent, self._secrets = runs_agent, secrets
        #: How many attempts have begun.
        self.number = 0
        self._failed: LyzrError | None = None
        self._then_raise: LyzrError | None = None

    def begin(self) -> None:
        """Before each attempt: raise the total timeout if the last wait used it up."""
        if self._then_raise is not None:
            raise self.final(self._then_raise) from self._failed
        self.number += 1

    def final(self, error: LyzrError, *, delivered: bool = False) -> LyzrError:
        """``error`` as the call raises it: scrubbed of the call's secrets; for an agent run
        that reached the service, marked ``may_have_run`` (and, when only that kept it from
        being retried, saying so in its message)."""
        error = redacted(error, self._secrets)
        if self._runs_agent and not error.may_have_run and _may_have_run(error):
            error.may_have_run = True
            if not delivered and not self._policy.retry_unsafe and self._policy.is_retryable(error):
                error._amend(MAY_HAVE_RUN)
        return error

    def delay_after(self, error: LyzrError, *, delivered: bool = False) -> float:
        """The wait before the next attempt; raises ``error`` when it is not retried
        (``delivered``: part of the answer already reached the caller)."""
        delay = (
            None
            if delivered
            else self._policy.delay(self.number, error, runs_agent=self._runs_agent)
        )
        if delay is None:
            raise self.final(error, delivered=delivered)
        remaining = self.deadline.remaining()
        if remaining is not None and delay >= remaining:
            total = timeout_error("total")
            # Every attempt so far failed before a run could start, unless runs are retried.
            total.request_sent = not self._runs_agent or self._policy.retry_unsafe
            self._failed, self._then_raise = error, total
            return remaining
        self._failed = error
        if self._on_retry is not None:
            self._on_retry(self.number, error, delay)
        logger.info(
            "lyzr_stream: attempt %d failed (%s); retrying in %.2fs",
            self.number,
            type(error).__name__,
            delay,
        )
        return delay


def _may_have_run(error: LyzrError) -> bool:
    """Whether a failed agent call may have run the agent: the request reached the service and
    the answer did not say it was refused (a 4xx refusal runs nothing)."""
    if isinstance(error, AgentError):
        return True  # the agent ran and reported its failure
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if isinstance(error, APIStatusError):
        return error.status_code >= 500 and not RetryPolicy.run_not_started(error)
    return False
